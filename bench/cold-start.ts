import { seedVms } from './list.js';
import { cliMain, cpuSeconds, freePort, info, isMain, log, median, nowMs, row, rssMb, runStandalone, sleep, spawnNode, tempDir, waitFor200, type Row } from './lib.js';

// Cold start: spawn to the first 200 of an API route (GET /api/v1/sizes), against a bare Express app
// (`node -e` that requires express and listens) in the same run, interleaved, median of N each:
// `mockcloud up --memory`, and `mockcloud up` on a data dir holding 10,000 VMs (with their
// operations and tags). Beside the wall time, the CPU time the process had used by then (/proc),
// which a busy machine disturbs much less. Then the idle RSS of `mockcloud up --memory` a few
// seconds after it is ready; target ≤ 100 MB (baseline: the target).

const ROUTE = '/api/v1/sizes';
const BARE = (port: number) =>
  `const express = require('express'); const app = express(); app.get('${ROUTE}', (q, r) => r.json({ items: [] })); app.listen(${port}, '127.0.0.1');`;

export async function benchColdStart(opts: { runs?: number; idleSeconds?: number; resources?: number } = {}): Promise<Row[]> {
  const runs = opts.runs ?? 7;
  const resources = opts.resources ?? 10_000;
  const dataDir = tempDir('cold');
  await seedVms(dataDir, resources);
  const once = async (which: 'bare' | 'memory' | 'data') => {
    const port = await freePort();
    const t0 = nowMs();
    const child =
      which === 'bare'
        ? spawnNode(['-e', BARE(port)])
        : spawnNode([cliMain(), 'up', ...(which === 'memory' ? ['--memory'] : ['--data-dir', dataDir]), '--port', String(port), '--log-level', 'warn']);
    try {
      const ms = await waitFor200(`http://127.0.0.1:${port}${ROUTE}`, child, { since: t0, everyMs: 2 });
      return { ms, cpu: cpuSeconds(child.pid) * 1000 };
    } finally {
      await child.stop();
    }
  };
  // One of each to warm the file system cache, then interleave.
  await once('bare');
  await once('memory');
  await once('data');
  const r = { bare: [] as { ms: number; cpu: number }[], memory: [] as { ms: number; cpu: number }[], data: [] as { ms: number; cpu: number }[] };
  for (let i = 0; i < runs; i++) {
    r.bare.push(await once('bare'));
    r.memory.push(await once('memory'));
    r.data.push(await once('data'));
  }
  const ms = (xs: { ms: number }[]) => median(xs.map((x) => x.ms));
  const cpu = (xs: { cpu: number }[]) => median(xs.map((x) => x.cpu));
  for (const [k, xs] of Object.entries(r)) log(`cold start ${k}: ${xs.map((x) => `${x.ms.toFixed(0)} ms (cpu ${x.cpu.toFixed(0)})`).join(', ')}`);

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
    row({ name: `cold start \`mockcloud up --memory\` → first 200 ${ROUTE} (median)`, value: ms(r.memory), unit: 'ms', baseline: ms(r.bare), baselineName: 'bare Express `node -e`', target: 2, bound: 'max' }),
    row({ name: '  … CPU used by then', value: cpu(r.memory), unit: 'ms', baseline: cpu(r.bare), baselineName: 'bare Express', target: null, bound: 'max' }),
    row({ name: `cold start \`mockcloud up\`, data dir with ${resources} VMs → first 200 (median)`, value: ms(r.data), unit: 'ms', baseline: ms(r.bare), baselineName: 'bare Express `node -e`', target: 3, bound: 'max' }),
    row({ name: '  … CPU used by then', value: cpu(r.data), unit: 'ms', baseline: cpu(r.bare), baselineName: 'bare Express', target: null, bound: 'max' }),
    row({ name: 'idle RSS of `mockcloud up --memory` (5 s after ready)', value: idle, unit: 'MB', baseline: 100, baselineName: 'the target', target: 1, bound: 'max' }),
    info('  … idle RSS of the bare Express app, for scale', bareRss, 'MB'),
  ];
}

if (isMain(import.meta.url)) await runStandalone(() => benchColdStart({ runs: Number(process.argv[2] ?? 7) || 7 }));
