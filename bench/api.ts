import fs from 'node:fs';
import path from 'node:path';
import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';
import { benchFile, client, cpuSeconds, freePort, isMain, log, packageRoot, row, runStandalone, spawnNode, startMockcloud, tempDir, waitFor200, type Proc, type Row } from './lib.js';

// API throughput in the configuration a user gets (`mockcloud up`, log level info, logs to a pipe),
// 50 connections, against peers measured in the same run:
// - a bare Express 5 app serving the same JSON from memory (GET one VM, the same page of 100, POST);
// - Prism (@stoplight/prism-cli) mocking openapi.yaml with logging off (GET one VM);
// - mockcloud itself at --log-level warn: what the per-request log line costs.
// Every server is a child process; autocannon runs here. The runs rotate (bare, mockcloud, Prism…,
// the starting point moving each round) so a noisy neighbour hurts all sides alike. Beside req/s,
// each run records the server's CPU time (user + system, /proc): CPU per request is much steadier
// than throughput on a shared machine, and is reported as info rows.

export interface ApiBenchOptions {
  connections?: number;
  seconds?: number;
  rounds?: number;
}

interface Totals {
  ok: number;
  seconds: number;
  cpu: number;
  p99: number[];
  bad: number;
}

const totals = (): Totals => ({ ok: 0, seconds: 0, cpu: 0, p99: [], bad: 0 });
const rps = (x: Totals) => x.ok / x.seconds;
const cpuUs = (x: Totals) => (x.cpu * 1e6) / x.ok;
const p99 = (x: Totals) => Math.max(...x.p99);

/** Prism's CLI, from the devDependency; undefined when it is not installed. */
function prismBin(): string | undefined {
  const bin = path.join(packageRoot(), 'node_modules', '@stoplight', 'prism-cli', 'dist', 'index.js');
  return fs.existsSync(bin) ? bin : undefined;
}

export async function benchApi(opts: ApiBenchOptions = {}): Promise<Row[]> {
  const connections = opts.connections ?? 50;
  const seconds = opts.seconds ?? 5;
  const rounds = opts.rounds ?? 3;
  const flags = ['--memory', '--time-scale', '0', '--failure-rate', '0'];
  // The default configuration: log level info (startMockcloud's default is warn).
  const mc = await startMockcloud('up', [...flags, '--log-level', 'info'], { MOCKCLOUD_LOG_LEVEL: 'info' });
  const quiet = await startMockcloud('up', [...flags, '--log-level', 'warn']);
  const children: Proc[] = [mc, quiet];
  try {
    const setUp = async (url: string) => {
      const api = client(url, 10);
      const env = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: 'bench-api', cidr: '10.0.0.0/16' });
      const ids: string[] = [];
      for (let i = 0; i < 100; i++) {
        ids.push((await api.call<{ id: string }>('POST', '/api/v1/vms', { name: `page-${i}`, environment_id: env.id, size: 'small', image: 'debian-12', tags: { team: 'bench' } })).id);
      }
      await new Promise((r) => setTimeout(r, 300));
      const sample = await api.call<{ id: string }>('GET', `/api/v1/vms/${ids[0]}`);
      const page = await api.call<{ items: unknown[] }>('GET', '/api/v1/vms?limit=100');
      await api.close();
      return { env, sample, page };
    };
    const { env, sample, page } = await setUp(mc.url);
    const q = await setUp(quiet.url);

    const dir = tempDir('api');
    const pageFile = path.join(dir, 'page.json');
    fs.writeFileSync(pageFile, JSON.stringify(page));
    const barePort = await freePort();
    const bare = spawnNode([benchFile('bare-app.js'), String(barePort)], { env: { BENCH_SAMPLE_VM: JSON.stringify(sample), BENCH_SAMPLE_PAGE: pageFile } });
    children.push(bare);
    const bareUrl = `http://127.0.0.1:${barePort}`;
    await waitFor200(`${bareUrl}/ready`, bare);

    const prismPath = prismBin();
    let prism: { url: string; pid: number } | undefined;
    if (prismPath) {
      const port = await freePort();
      const p = spawnNode([prismPath, 'mock', path.join(packageRoot(), 'openapi.yaml'), '-p', String(port), '-h', '127.0.0.1', '-v', 'silent'], {});
      children.push(p);
      await waitFor200(`http://127.0.0.1:${port}/health`, p, { timeoutMs: 60_000, everyMs: 100 });
      prism = { url: `http://127.0.0.1:${port}`, pid: p.pid };
    } else {
      log('api: @stoplight/prism-cli is not installed (npm install); the Prism row is skipped');
    }

    let n = 0;
    const post = (prefix: string, envId: string): AutocannonRequest[] => [
      {
        method: 'POST',
        path: '/api/v1/vms',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: `${prefix}-${n++}`, environment_id: envId, size: 'small', image: 'debian-12' }) }),
      },
    ];
    const get = (id: string): AutocannonRequest[] => [{ method: 'GET', path: `/api/v1/vms/${id}` }];
    const list: AutocannonRequest[] = [{ method: 'GET', path: '/api/v1/vms?limit=100' }];
    // The contract declares bearer security (SPEC §10): Prism answers 401 to a request without a
    // token, so its requests carry one (Prism checks presence, not value).
    const prismGet = (id: string): AutocannonRequest[] => [{ method: 'GET', path: `/api/v1/vms/${id}`, headers: { authorization: 'Bearer bench' } }];
    const run = async (t: Totals, url: string, pid: number, requests: AutocannonRequest[], duration = seconds) => {
      const c0 = cpuSeconds(pid);
      const r: AutocannonResult = await autocannon({ url, connections, duration, requests, timeout: 30 });
      t.cpu += cpuSeconds(pid) - c0;
      t.ok += r['2xx'];
      t.seconds += r.duration;
      t.p99.push(r.latency.p99);
      t.bad += r.non2xx + r.errors + r.timeouts;
    };

    // Warm every server (JIT, connections, lazily compiled validators) before anything counts.
    const scratch = totals();
    for (const [url, pid, id] of [[bareUrl, bare.pid, sample.id], [mc.url, mc.pid, sample.id], [quiet.url, quiet.pid, q.sample.id]] as const) {
      await run(scratch, url, pid, get(id), 2);
      await run(scratch, url, pid, list, 1);
    }
    if (prism) await run(scratch, prism.url, prism.pid, prismGet(sample.id), 2);
    await run(scratch, bareUrl, bare.pid, post('warm', env.id), 1);
    await run(scratch, mc.url, mc.pid, post('warm', env.id), 1);

    const t = {
      bareGet: totals(), mcGet: totals(), quietGet: totals(), prismGet: totals(),
      bareList: totals(), mcList: totals(),
      barePost: totals(), mcPost: totals(),
    };
    const rotate = <T>(xs: T[], i: number) => [...xs.slice(i % xs.length), ...xs.slice(0, i % xs.length)];
    for (let i = 0; i < rounds; i++) {
      log(`api: round ${i + 1}/${rounds}`);
      const gets: (() => Promise<void>)[] = [
        () => run(t.bareGet, bareUrl, bare.pid, get(sample.id)),
        () => run(t.mcGet, mc.url, mc.pid, get(sample.id)),
        () => run(t.quietGet, quiet.url, quiet.pid, get(q.sample.id)),
      ];
      if (prism) gets.push(() => run(t.prismGet, prism.url, prism.pid, prismGet(sample.id)));
      for (const g of rotate(gets, i)) await g();
      for (const l of rotate([() => run(t.bareList, bareUrl, bare.pid, list), () => run(t.mcList, mc.url, mc.pid, list)], i)) await l();
      for (const p of rotate([() => run(t.barePost, bareUrl, bare.pid, post(`b${i}`, env.id)), () => run(t.mcPost, mc.url, mc.pid, post(`m${i}`, env.id))], i)) await p();
    }
    for (const [k, v] of Object.entries(t)) if (v.bad) log(`api: ${k} had ${v.bad} non-2xx/errors/timeouts`);
    log(`api: CPU µs/request — GET bare ${cpuUs(t.bareGet).toFixed(0)}, mockcloud ${cpuUs(t.mcGet).toFixed(0)} (warn ${cpuUs(t.quietGet).toFixed(0)}); list bare ${cpuUs(t.bareList).toFixed(0)}, mockcloud ${cpuUs(t.mcList).toFixed(0)}; POST bare ${cpuUs(t.barePost).toFixed(0)}, mockcloud ${cpuUs(t.mcPost).toFixed(0)}`);

    const rows: Row[] = [
      row({ name: `API GET /vms/{id} (${connections} conn, log level info)`, value: rps(t.mcGet), unit: 'req/s', baseline: rps(t.bareGet), baselineName: 'bare Express', target: 0.6, bound: 'min' }),
    ];
    if (prism) rows.push(row({ name: 'API GET /vms/{id} against Prism mocking openapi.yaml', value: rps(t.mcGet), unit: 'req/s', baseline: rps(t.prismGet), baselineName: 'Prism, logging off', target: 1.5, bound: 'min' }));
    rows.push(
      row({ name: '  … GET CPU per request (bare Express / mockcloud)', value: cpuUs(t.mcGet), unit: 'µs', baseline: cpuUs(t.bareGet), baselineName: 'bare Express', ratio: cpuUs(t.bareGet) / cpuUs(t.mcGet), target: null, bound: 'min' }),
      row({ name: '  … GET p99 latency', value: p99(t.mcGet), unit: 'ms', baseline: p99(t.bareGet), baselineName: 'bare Express', target: null, bound: 'max' }),
      row({ name: 'API GET /vms?limit=100 (a page of 100)', value: rps(t.mcList), unit: 'req/s', baseline: rps(t.bareList), baselineName: 'Express, same page from memory', target: 0.4, bound: 'min' }),
      row({ name: '  … list CPU per request (Express / mockcloud)', value: cpuUs(t.mcList), unit: 'µs', baseline: cpuUs(t.bareList), baselineName: 'Express', ratio: cpuUs(t.bareList) / cpuUs(t.mcList), target: null, bound: 'min' }),
      row({ name: `API POST /vms, time scale 0 (${connections} conn)`, value: rps(t.mcPost), unit: 'req/s', baseline: rps(t.barePost), baselineName: 'bare Express', target: 0.3, bound: 'min' }),
      row({ name: '  … POST CPU per request (bare Express / mockcloud)', value: cpuUs(t.mcPost), unit: 'µs', baseline: cpuUs(t.barePost), baselineName: 'bare Express', ratio: cpuUs(t.barePost) / cpuUs(t.mcPost), target: null, bound: 'min' }),
      row({ name: '  … POST p99 latency', value: p99(t.mcPost), unit: 'ms', baseline: p99(t.barePost), baselineName: 'bare Express', target: null, bound: 'max' }),
      // Cost = 1 − ratio; the target ≤ 10 % cost is a ratio ≥ 0.9.
      row({ name: 'per-request logging: GET at info vs --log-level warn (cost ≤ 10 %)', value: rps(t.mcGet), unit: 'req/s', baseline: rps(t.quietGet), baselineName: 'mockcloud, warn', target: 0.9, bound: 'min' }),
      row({ name: '  … logging, CPU per request (warn / info)', value: cpuUs(t.mcGet), unit: 'µs', baseline: cpuUs(t.quietGet), baselineName: 'mockcloud, warn', ratio: cpuUs(t.quietGet) / cpuUs(t.mcGet), target: null, bound: 'min' }),
    );
    return rows;
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}

if (isMain(import.meta.url)) await runStandalone(() => benchApi());
