import { DURATION_TAG } from '../core/simulation/plan.js';
import { createTimings, startDeployment, waitFinished, type Mode } from './deploy.js';
import { bounded, client, cpuSeconds, info, isMain, log, percentile, row, rssSampler, runStandalone, type Row } from './lib.js';

// 10,000 operations in flight at time scale 1 on one worker. Every VM create takes 30–60 s of
// simulated time after the last submission (mockcloud:duration tags, see below), so all are in
// flight at once. Lateness = finished_at − (started + planned duration), per operation, read from
// the operations table afterwards. Target: p99 lateness ≤ 1 s; the baseline is the target itself.
// The engine process's peak RSS and its CPU use over the run are reported beside it.

export async function inflight(mode: Mode, count: number, opts: { minS?: number; maxS?: number } = {}) {
  const minS = opts.minS ?? 30;
  const maxS = opts.maxS ?? 60;
  const d = await startDeployment(mode, { timeScale: 1 });
  try {
    const api = client(d.api.url, 50);
    await api.call('PATCH', '/api/v1/simulation', { time_scale: 1, failure_rate: 0, operations: { 'vm.create': { min_s: minS, max_s: maxS } } }, [200], 'application/merge-patch+json');
    const env = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: `bench-inflight-${mode}`, cidr: '10.0.0.0/16' });
    const rss = rssSampler(d.workerPid);
    const cpu0 = cpuSeconds(d.workerPid);
    const t0 = Date.now();
    // Each VM's duration is tagged: 30–60 s plus the time the remaining submissions are expected to
    // take at the rate seen so far (× 1.5), so that on a slow or busy machine too every operation is
    // still in flight when the last one is submitted. The table reports how many were at once.
    let submitted = 0;
    let longest = 0;
    await bounded(count, 50, async (i) => {
      const elapsed = (Date.now() - t0) / 1000;
      const rate = submitted > 100 ? submitted / elapsed : 100;
      const seconds = minS + (maxS - minS) * Math.random() + ((count - i) / rate) * 1.5;
      longest = Math.max(longest, seconds);
      const tags = { [DURATION_TAG]: seconds.toFixed(3) };
      await api.call('POST', '/api/v1/vms', { name: `vm-${i}`, environment_id: env.id, size: 'small', image: 'debian-12', tags });
      submitted++;
    });
    log(`inflight ${mode}: ${count} creates submitted in ${((Date.now() - t0) / 1000).toFixed(1)} s; waiting for them to finish`);
    let lastLog = 0;
    await waitFinished(d.db, count, {
      // The first submissions, before the rate is known, plan for 100/s: on a fast machine they end
      // minutes after the rest. Only silence past the longest planned operation is a stall.
      stallMs: Math.max(90_000, (longest + 30) * 1000),
      everyMs: 1000,
      onTick: (done) => {
        if (Date.now() - lastLog > 15_000) {
          lastLog = Date.now();
          log(`inflight ${mode}: ${done}/${count} finished after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        }
      },
    });
    const wall = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(d.workerPid) - cpu0;
    const peakRss = rss.stop();
    await api.close();
    const ops = await createTimings(d.db);
    const lateness = ops.map((o) => o.finished - (o.started + o.duration));
    const queueDelay = ops.map((o) => o.started - o.created);
    // Most operations in flight at once (sweep over start/finish).
    const edges = ops.flatMap((o) => [[o.started, 1] as const, [o.finished, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let cur = 0;
    let maxInFlight = 0;
    for (const [, delta] of edges) maxInFlight = Math.max(maxInFlight, (cur += delta));
    return {
      p50: percentile(lateness, 50),
      p99: percentile(lateness, 99),
      max: Math.max(...lateness),
      queueP99: percentile(queueDelay, 99),
      maxInFlight,
      peakRss,
      cpuShare: cpu / wall,
      failed: ops.filter((o) => o.status !== 'succeeded').length,
    };
  } finally {
    await d.stop();
  }
}

export async function benchInflight(opts: { count?: number; modes?: Mode[] } = {}): Promise<Row[]> {
  const count = opts.count ?? 10_000;
  const rows: Row[] = [];
  for (const mode of opts.modes ?? (['embedded', 'distributed'] as Mode[])) {
    const r = await inflight(mode, count);
    const label = mode === 'embedded' ? 'embedded' : 'distributed worker';
    log(`inflight ${mode}: ${JSON.stringify(r)}`);
    rows.push(
      row({ name: `${count} ops in flight @ time scale 1, ${label}: p99 lateness (max in flight ${r.maxInFlight})`, value: r.p99, unit: 'ms', baseline: 1000, baselineName: 'the target; no peer', target: 1, bound: 'max' }),
      info(`  … ${label}: p50 lateness`, r.p50, 'ms'),
      info(`  … ${label}: max lateness`, r.max, 'ms'),
      info(`  … ${label}: p99 queue delay (created → started)`, r.queueP99, 'ms'),
      info(`  … ${label}: ${mode === 'embedded' ? 'mockcloud up' : 'worker'} peak RSS`, r.peakRss, 'MB'),
      info(`  … ${label}: ${mode === 'embedded' ? 'mockcloud up' : 'worker'} CPU (cores busy, avg)`, r.cpuShare, 'cores'),
    );
    if (r.failed) log(`inflight ${mode}: ${r.failed} operations failed`);
  }
  return rows;
}

if (isMain(import.meta.url)) {
  const modes = process.argv.slice(2).filter((a): a is Mode => a === 'embedded' || a === 'distributed');
  await runStandalone(() => benchInflight({ modes: modes.length ? modes : undefined }));
}
