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

/** Wall time of one CLI run and the time its first stdout byte arrived (ms). */
function timeToOutputAndExit(args: string[], env: NodeJS.ProcessEnv): Promise<{ first: number; exit: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    let first: number | undefined;
    let err = '';
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', () => (first ??= ms()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      const exit = ms();
      if (code !== 0 || first === undefined) reject(new Error(`${args.join(' ')} exited ${code} (output: ${first !== undefined}): ${err}`));
      else resolve({ first, exit });
    });
  });
}

/**
 * How long the CLI lingers after its work is done: `vm list` wall time against its own time to
 * first output, in the same runs (issue 13: idle keep-alive sockets and a WebAssembly parser's
 * background compilation used to hold the process ~0.6 s after the table was printed).
 */
export async function benchCliExit(opts: { runs?: number } = {}): Promise<BenchRow[]> {
  const runs = opts.runs ?? 15;
  const srv = await server();
  try {
    const env = { ...process.env, MOCKCLOUD_ENDPOINT: srv.endpoint, CI: 'true' };
    const args = [MAIN, 'vm', 'list'];
    await timeToOutputAndExit([MAIN, 'env', 'create', `bench-${process.pid}`], env);
    await timeToOutputAndExit([MAIN, 'vm', 'create', 'bench-vm', '--env', `bench-${process.pid}`], env);
    await timeToOutputAndExit(args, env);
    const firsts: number[] = [];
    const exits: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = await timeToOutputAndExit(args, env);
      firsts.push(t.first);
      exits.push(t.exit);
    }
    const value = median(exits);
    const baseline = median(firsts);
    return [{ name: 'cli exit: vm list wall time (median ms)', value: round(value), baseline: round(baseline), ratio: round(value / baseline), target: 1.3 }];
  } finally {
    srv.stop();
  }
}
