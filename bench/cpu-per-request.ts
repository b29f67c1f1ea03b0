import autocannon, { type AutocannonRequest } from 'autocannon';
import { benchFile, client, cpuSeconds, freePort, isMain, log, spawnNode, startMockcloud, waitFor200 } from './lib.js';

// CPU time per request of the server process (user + system from /proc), mockcloud against the
// bare Express app: on a shared machine throughput swings with the neighbours, CPU per request
// much less. `node dist/bench/cpu-per-request.js [requests] [extra mockcloud up flags…]`

export async function cpuPerRequest(requests = 20_000, extraArgs: string[] = [], env: Record<string, string> = {}) {
  const mc = await startMockcloud('up', ['--memory', '--time-scale', '0', '--failure-rate', '0', ...extraArgs], env);
  const port = await freePort();
  let bare: ReturnType<typeof spawnNode> | undefined;
  try {
    const api = client(mc.url, 4);
    const e = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: 'cpu', cidr: '10.0.0.0/16' });
    const vm = await api.call<{ id: string }>('POST', '/api/v1/vms', { name: 'sample', environment_id: e.id, size: 'small', image: 'debian-12' });
    await new Promise((r) => setTimeout(r, 300));
    const sample = await api.call<{ id: string }>('GET', `/api/v1/vms/${vm.id}`);
    await api.close();
    bare = spawnNode([benchFile('bare-app.js'), String(port)], { env: { BENCH_SAMPLE_VM: JSON.stringify(sample) } });
    const bareUrl = `http://127.0.0.1:${port}`;
    await waitFor200(`${bareUrl}/ready`, bare);
    let n = 0;
    const post: AutocannonRequest[] = [{ method: 'POST', path: '/api/v1/vms', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: `c-${n++}`, environment_id: e.id, size: 'small', image: 'debian-12' }) }) }];
    const get: AutocannonRequest[] = [{ method: 'GET', path: `/api/v1/vms/${sample.id}` }];
    const measure = async (url: string, pid: number, reqs: AutocannonRequest[], amount: number) => {
      const c0 = cpuSeconds(pid);
      const r = await autocannon({ url, connections: 50, amount, requests: reqs, timeout: 30 });
      if (r.non2xx || r.errors) log(`${r.non2xx} non-2xx, ${r.errors} errors`);
      return ((cpuSeconds(pid) - c0) * 1e6) / amount;
    };
    await measure(mc.url, mc.pid, get, 2000);
    await measure(bareUrl, bare.pid, get, 2000);
    const out = { getMc: [] as number[], getBare: [] as number[], postMc: [] as number[], postBare: [] as number[] };
    for (let i = 0; i < 3; i++) {
      out.getBare.push(await measure(bareUrl, bare.pid, get, requests));
      out.getMc.push(await measure(mc.url, mc.pid, get, requests));
      out.postBare.push(await measure(bareUrl, bare.pid, post, requests / 4));
      out.postMc.push(await measure(mc.url, mc.pid, post, requests / 4));
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    return { getMc: med(out.getMc), getBare: med(out.getBare), postMc: med(out.postMc), postBare: med(out.postBare), raw: out };
  } finally {
    await bare?.stop();
    await mc.stop();
  }
}

if (isMain(import.meta.url)) {
  const r = await cpuPerRequest(Number(process.argv[2] ?? 20000) || 20000, process.argv.slice(3));
  process.stdout.write(`CPU µs/request (median of 3): GET mockcloud ${r.getMc.toFixed(0)} vs bare ${r.getBare.toFixed(0)} → ${(r.getBare / r.getMc).toFixed(3)}×; POST mockcloud ${r.postMc.toFixed(0)} vs bare ${r.postBare.toFixed(0)} → ${(r.postBare / r.postMc).toFixed(3)}×\n${JSON.stringify(r.raw)}\n`);
}
