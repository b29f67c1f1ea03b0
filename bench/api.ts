import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';
import { benchFile, client, freePort, isMain, log, row, runStandalone, spawnNode, startMockcloud, waitFor200, type Row } from './lib.js';

// API throughput: GET /api/v1/vms/{id} and POST /api/v1/vms (time scale 0) with 50 connections,
// against a bare Express 5 app serving the same JSON from memory. Both servers run as child
// processes; autocannon runs here. The runs alternate (bare, mockcloud, bare, mockcloud…) so a noisy
// neighbour hurts both sides alike.

export interface ApiBenchOptions {
  connections?: number;
  seconds?: number;
  rounds?: number;
}

interface Totals {
  ok: number;
  seconds: number;
  p99: number[];
  bad: number;
}

const add = (t: Totals, r: AutocannonResult) => {
  t.ok += r['2xx'];
  t.seconds += r.duration;
  t.p99.push(r.latency.p99);
  t.bad += r.non2xx + r.errors + r.timeouts;
};

export async function benchApi(opts: ApiBenchOptions = {}): Promise<Row[]> {
  const connections = opts.connections ?? 50;
  const seconds = opts.seconds ?? 6;
  const rounds = opts.rounds ?? 2;
  const mc = await startMockcloud('up', ['--memory', '--time-scale', '0', '--failure-rate', '0']);
  const port = await freePort();
  let bare: ReturnType<typeof spawnNode> | undefined;
  try {
    const api = client(mc.url, 4);
    const env = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: 'bench-api', cidr: '10.0.0.0/16' });
    const created = await api.call<{ id: string }>('POST', '/api/v1/vms', { name: 'sample', environment_id: env.id, size: 'small', image: 'debian-12', tags: { team: 'bench' } });
    await new Promise((r) => setTimeout(r, 300));
    const sample = await api.call<{ id: string; status: string }>('GET', `/api/v1/vms/${created.id}`);
    await api.close();

    bare = spawnNode([benchFile('bare-app.js'), String(port)], { env: { BENCH_SAMPLE_VM: JSON.stringify(sample) } });
    const bareUrl = `http://127.0.0.1:${port}`;
    await waitFor200(`${bareUrl}/ready`, bare);

    let n = 0;
    const post = (prefix: string): AutocannonRequest[] => [
      {
        method: 'POST',
        path: '/api/v1/vms',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: `${prefix}-${n++}`, environment_id: env.id, size: 'small', image: 'debian-12' }) }),
      },
    ];
    const get: AutocannonRequest[] = [{ method: 'GET', path: `/api/v1/vms/${sample.id}` }];
    const run = (url: string, requests: AutocannonRequest[], duration = seconds) => autocannon({ url, connections, duration, requests, timeout: 30 });

    // Warm both (JIT, connection set-up) before anything counts.
    await run(bareUrl, get, 2);
    await run(mc.url, get, 2);
    await run(bareUrl, post('warm'), 1);
    await run(mc.url, post('warm'), 1);

    const t = {
      bareGet: { ok: 0, seconds: 0, p99: [], bad: 0 } as Totals,
      mcGet: { ok: 0, seconds: 0, p99: [], bad: 0 } as Totals,
      barePost: { ok: 0, seconds: 0, p99: [], bad: 0 } as Totals,
      mcPost: { ok: 0, seconds: 0, p99: [], bad: 0 } as Totals,
    };
    for (let i = 0; i < rounds; i++) {
      const first = i % 2 === 0;
      log(`api: round ${i + 1}/${rounds}`);
      if (first) add(t.bareGet, await run(bareUrl, get));
      add(t.mcGet, await run(mc.url, get));
      if (!first) add(t.bareGet, await run(bareUrl, get));
      if (first) add(t.barePost, await run(bareUrl, post(`b${i}`)));
      add(t.mcPost, await run(mc.url, post(`m${i}`)));
      if (!first) add(t.barePost, await run(bareUrl, post(`b${i}`)));
    }
    for (const [k, v] of Object.entries(t)) if (v.bad) log(`api: ${k} had ${v.bad} non-2xx/errors/timeouts`);
    const rps = (x: Totals) => x.ok / x.seconds;
    const p99 = (x: Totals) => Math.max(...x.p99);
    return [
      row({ name: `API GET /vms/{id} (${connections} conn)`, value: rps(t.mcGet), unit: 'req/s', baseline: rps(t.bareGet), baselineName: 'bare Express', target: 0.6, bound: 'min' }),
      row({ name: 'API GET /vms/{id} p99 latency', value: p99(t.mcGet), unit: 'ms', baseline: p99(t.bareGet), baselineName: 'bare Express', target: null, bound: 'max' }),
      row({ name: `API POST /vms, time scale 0 (${connections} conn)`, value: rps(t.mcPost), unit: 'req/s', baseline: rps(t.barePost), baselineName: 'bare Express', target: 0.3, bound: 'min' }),
      row({ name: 'API POST /vms p99 latency', value: p99(t.mcPost), unit: 'ms', baseline: p99(t.barePost), baselineName: 'bare Express', target: null, bound: 'max' }),
    ];
  } finally {
    await bare?.stop();
    await mc.stop();
  }
}

if (isMain(import.meta.url)) await runStandalone(() => benchApi());
