import { Pool } from 'undici';
import { startDeployment, type Deployment, type Mode } from './deploy.js';
import { benchFile, client, cpuSeconds, info, isMain, log, nowMs, percentile, row, runStandalone, sleep, spawnNode, type Row } from './lib.js';

// Other requests while SSE streams are open (issue 9 measured p99 0.5 s embedded and 1.5 s
// distributed with 500 streams, each reading the log on its own). VMs are created at 5/s at time
// scale 0.1, so each reports progress for 3–6 s and the log grows all the time; a probe sends
// GET /vms/{id} and GET /vms?limit=20 at a steady 40/s and times each from its scheduled start
// (open loop: a slow answer does not slow the probe down). Phases alternate without streams and
// with 500 (held by a child process, bench/sse-clients.ts, mixing unfiltered, environment, kind,
// resource and match-nothing filters): none, streams, streams, none. The row is p99 with streams
// against p99 without, in the same run.

export interface StreamsBenchOptions {
  modes?: Mode[];
  streams?: number;
  phaseSeconds?: number;
  createsPerSecond?: number;
  probesPerSecond?: number;
  /** Node flags for the server under test (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

interface Phase {
  latencies: number[];
  errors: number;
  /** CPU the API process used, in cores busy on average. */
  apiCores: number;
}

async function loadPhase(d: Deployment, envId: string, vmId: string, seconds: number, createsPerSecond: number, probesPerSecond: number, tag: string): Promise<Phase> {
  const pool = new Pool(d.api.url, { connections: 16, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  let created = 0;
  const fire = (method: 'GET' | 'POST', path: string, body?: unknown, timed = false) => {
    const scheduled = nowMs();
    pending.push(
      pool
        .request({ method, path, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined })
        .then(async (res) => {
          await res.body.text();
          if (res.statusCode >= 400) errors++;
          if (timed) latencies.push(nowMs() - scheduled);
        })
        .catch(() => void errors++),
    );
  };
  const t0 = nowMs();
  const cpu0 = cpuSeconds(d.api.pid);
  const end = t0 + seconds * 1000;
  let nextCreate = t0;
  let nextProbe = t0;
  let probe = 0;
  while (nowMs() < end) {
    const now = nowMs();
    if (now >= nextCreate) {
      nextCreate += 1000 / createsPerSecond;
      fire('POST', '/api/v1/vms', { name: `${tag}-${created++}`, environment_id: envId, size: 'small', image: 'debian-12' });
    }
    if (now >= nextProbe) {
      nextProbe += 1000 / probesPerSecond;
      fire('GET', probe++ % 2 ? `/api/v1/vms/${vmId}` : '/api/v1/vms?limit=20', undefined, true);
    }
    await sleep(Math.max(0, Math.min(nextCreate, nextProbe) - nowMs()));
  }
  await Promise.all(pending);
  const apiCores = (cpuSeconds(d.api.pid) - cpu0) / ((nowMs() - t0) / 1000);
  await pool.close();
  return { latencies, errors, apiCores };
}

async function withStreams<T>(url: string, count: number, paths: string[], fn: () => Promise<T>): Promise<{ result: T; frames: number }> {
  const child = spawnNode([benchFile('sse-clients.js'), url, String(count)], { env: { BENCH_SSE_PATHS: JSON.stringify(paths) } });
  try {
    const deadline = Date.now() + 60_000;
    while (!child.output().includes(`open ${count}`)) {
      if (child.proc.exitCode !== null) throw new Error(`sse-clients exited: ${child.output().slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`only part of ${count} streams opened: ${child.output().slice(-2000)}`);
      await sleep(50);
    }
    const result = await fn();
    await child.stop('SIGTERM');
    const m = /events (\d+)/.exec(child.output());
    return { result, frames: m ? Number(m[1]) : NaN };
  } finally {
    await child.stop('SIGKILL');
  }
}

export async function streamsLatency(mode: Mode, opts: StreamsBenchOptions = {}) {
  const streams = opts.streams ?? 500;
  const seconds = opts.phaseSeconds ?? 15;
  const cps = opts.createsPerSecond ?? 5;
  const pps = opts.probesPerSecond ?? 40;
  const d = await startDeployment(mode, { timeScale: 0.1, nodeArgs: opts.nodeArgs });
  try {
    const api = client(d.api.url, 4);
    const env = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: `bench-sse-${mode}`, cidr: '10.0.0.0/16' });
    const quiet = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: `bench-sse-quiet-${mode}`, cidr: '10.1.0.0/16' });
    const vm = await api.call<{ id: string }>('POST', '/api/v1/vms', { name: 'probe-target', environment_id: env.id, size: 'small', image: 'debian-12' });
    await api.close();
    const paths = [
      '/api/v1/events',
      `/api/v1/events?environment_id=${env.id}`,
      '/api/v1/events?kind=vm.create',
      `/api/v1/events?resource_id=${vm.id}`,
      `/api/v1/events?environment_id=${quiet.id}`,
    ];
    // Warm-up: JIT, pools, the first VMs.
    await loadPhase(d, env.id, vm.id, 3, cps, pps, 'warm');
    const without: number[] = [];
    const withS: number[] = [];
    let errors = 0;
    let frames = 0;
    let streamSeconds = 0;
    const cores = { none: [] as number[], streams: [] as number[] };
    for (const [i, kind] of (['none', 'streams', 'streams', 'none'] as const).entries()) {
      log(`streams ${mode}: phase ${i + 1}/4 (${kind === 'none' ? 'no streams' : `${streams} streams`})`);
      if (kind === 'none') {
        const p = await loadPhase(d, env.id, vm.id, seconds, cps, pps, `p${i}`);
        without.push(...p.latencies);
        errors += p.errors;
        cores.none.push(p.apiCores);
      } else {
        const { result, frames: f } = await withStreams(d.api.url, streams, paths, () => loadPhase(d, env.id, vm.id, seconds, cps, pps, `p${i}`));
        withS.push(...result.latencies);
        errors += result.errors;
        cores.streams.push(result.apiCores);
        frames += f;
        streamSeconds += seconds;
      }
    }
    if (errors) log(`streams ${mode}: ${errors} requests failed`);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return {
      p99Without: percentile(without, 99),
      p99With: percentile(withS, 99),
      p50Without: percentile(without, 50),
      p50With: percentile(withS, 50),
      framesPerSecond: frames / streamSeconds,
      apiCoresWithout: avg(cores.none),
      apiCoresWith: avg(cores.streams),
      errors,
    };
  } finally {
    await d.stop();
  }
}

export async function benchStreams(opts: StreamsBenchOptions = {}): Promise<Row[]> {
  const streams = opts.streams ?? 500;
  const rows: Row[] = [];
  for (const mode of opts.modes ?? (['embedded', 'distributed'] as Mode[])) {
    const r = await streamsLatency(mode, opts);
    log(`streams ${mode}: ${JSON.stringify(r)}`);
    const label = mode === 'embedded' ? 'embedded (up)' : 'distributed (1 server + 1 worker)';
    rows.push(
      row({ name: `p99 of other requests with ${streams} SSE streams + 5 creates/s, ${label}`, value: r.p99With, unit: 'ms', baseline: r.p99Without, baselineName: 'no streams', target: 2, bound: 'max' }),
      row({ name: `  … ${label}: p50`, value: r.p50With, unit: 'ms', baseline: r.p50Without, baselineName: 'no streams', target: null, bound: 'max' }),
      row({ name: `  … ${label}: API process CPU`, value: r.apiCoresWith, unit: 'cores', baseline: r.apiCoresWithout, baselineName: 'no streams', target: null, bound: 'max' }),
      info(`  … ${label}: events written to streams`, r.framesPerSecond, 'events/s'),
    );
  }
  return rows;
}

if (isMain(import.meta.url)) {
  const modes = process.argv.slice(2).filter((a): a is Mode => a === 'embedded' || a === 'distributed');
  await runStandalone(() => benchStreams({ modes: modes.length ? modes : undefined }));
}
