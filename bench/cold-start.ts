import { cliMain, freePort, info, isMain, log, median, nowMs, row, rssMb, runStandalone, sleep, spawnNode, waitFor200, type Row } from './lib.js';

// Cold start: spawn to the first 200 from /ready, `mockcloud up --memory` against a bare Express app
// (`node -e` that requires express and listens) in the same run, interleaved, median of N each.
// Then the idle RSS of `mockcloud up` (default data dir in a temp dir would add nothing: --memory
// keeps the comparison clean) a few seconds after it is ready; target ≤ 100 MB (baseline: the target).

const BARE = (port: number) =>
  `const express = require('express'); const app = express(); app.get('/ready', (q, r) => r.json({ status: 'ready' })); app.listen(${port}, '127.0.0.1');`;

export async function benchColdStart(opts: { runs?: number; idleSeconds?: number } = {}): Promise<Row[]> {
  const runs = opts.runs ?? 7;
  const once = async (which: 'bare' | 'mockcloud') => {
    const port = await freePort();
    const t0 = nowMs();
    const child =
      which === 'bare'
        ? spawnNode(['-e', BARE(port)])
        : spawnNode([cliMain(), 'up', '--memory', '--port', String(port), '--log-level', 'warn']);
    try {
      return await waitFor200(`http://127.0.0.1:${port}/ready`, child, { since: t0, everyMs: 2 });
    } finally {
      await child.stop();
    }
  };
  // One of each to warm the file system cache, then interleave.
  await once('bare');
  await once('mockcloud');
  const bare: number[] = [];
  const mc: number[] = [];
  for (let i = 0; i < runs; i++) {
    bare.push(await once('bare'));
    mc.push(await once('mockcloud'));
  }
  log(`cold start: bare ${bare.map((x) => x.toFixed(0)).join(' ')} ms; mockcloud ${mc.map((x) => x.toFixed(0)).join(' ')} ms`);

  // Idle RSS.
  const port = await freePort();
  const up = spawnNode([cliMain(), 'up', '--memory', '--port', String(port), '--log-level', 'warn']);
  const bareIdle = spawnNode(['-e', BARE(await freePort())]);
  let idle: number;
  let bareRss: number;
  try {
    await waitFor200(`http://127.0.0.1:${port}/ready`, up);
    await sleep((opts.idleSeconds ?? 5) * 1000);
    idle = rssMb(up.pid);
    bareRss = rssMb(bareIdle.pid);
  } finally {
    await up.stop();
    await bareIdle.stop();
  }
  return [
    row({ name: 'cold start `mockcloud up --memory` → first 200 /ready (median)', value: median(mc), unit: 'ms', baseline: median(bare), baselineName: 'bare Express `node -e`', target: 2, bound: 'max' }),
    row({ name: 'idle RSS of `mockcloud up --memory` (5 s after ready)', value: idle, unit: 'MB', baseline: 100, baselineName: 'the target', target: 1, bound: 'max' }),
    info('  … idle RSS of the bare Express app, for scale', bareRss, 'MB'),
  ];
}

if (isMain(import.meta.url)) await runStandalone(() => benchColdStart());
