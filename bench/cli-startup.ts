import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

// Start-up cost of the CLI: wall time of `mockcloud vm list --output json` against a running
// `mockcloud up`, next to `node -e 0` measured in the same run (so the ratio travels across
// machines). The JSON path must not load React/Ink; a regression shows up here as a ratio jump.

export interface BenchRow {
  name: string;
  value: number;
  baseline: number;
  ratio: number;
  target: number;
}

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeRun(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `mockcloud up --memory` unless MOCKCLOUD_ENDPOINT points at a running one. */
async function server(): Promise<{ endpoint: string; stop: () => void }> {
  if (process.env.MOCKCLOUD_BENCH_ENDPOINT) return { endpoint: process.env.MOCKCLOUD_BENCH_ENDPOINT, stop: () => undefined };
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN, 'up', '--memory', '--port', String(port), '--log-level', 'silent'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('mockcloud is up at')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`mockcloud up exited ${code}: ${err}`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

export async function benchCliStartup(opts: { runs?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 15;
  const srv = await server();
  try {
    const env = { ...process.env, MOCKCLOUD_ENDPOINT: srv.endpoint, CI: 'true' };
    // Warm the file system cache and the server once; measure the rest interleaved.
    timeRun(['-e', '0'], env);
    timeRun([MAIN, 'vm', 'list', '--output', 'json'], env);
    const node: number[] = [];
    const cli: number[] = [];
    for (let i = 0; i < runs; i++) {
      node.push(timeRun(['-e', '0'], env));
      cli.push(timeRun([MAIN, 'vm', 'list', '--output', 'json'], env));
    }
    const value = median(cli);
    const baseline = median(node);
    // Target (issue 12): a JSON command costs at most 3× a bare `node -e 0` (module loading + one request).
    return [{ name: 'cli startup: vm list --output json (median ms)', value: round(value), baseline: round(baseline), ratio: round(value / baseline), target: 3 }];
  } finally {
    srv.stop();
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await benchCliStartup();
  for (const r of rows) {
    process.stdout.write(`${r.name}: ${r.value} ms vs node -e 0 ${r.baseline} ms → ratio ${r.ratio} (target ≤ ${r.target}) ${r.ratio <= r.target ? 'ok' : 'SLOW'}\n`);
  }
}
