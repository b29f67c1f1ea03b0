import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

// Shared pieces of the benchmarks: the row every benchmark returns, child processes (the server
// under test never shares the load generator's event loop), readiness polling, RSS, percentiles.
// The machine is shared and noisy: every row is a ratio against a baseline measured in the same run.

export interface Row {
  name: string;
  value: number;
  unit: string;
  /** What the value is compared with, measured in the same run (or the target itself where there is no peer). */
  baseline: number | null;
  baselineName: string;
  ratio: number | null;
  /** The ratio's target; null for rows that are reported only. */
  target: number | null;
  /** 'min': ratio must be ≥ target; 'max': ratio must be ≤ target. */
  bound: 'min' | 'max';
  pass: boolean | null;
}

export function row(r: Omit<Row, 'ratio' | 'pass'> & { ratio?: number | null }): Row {
  const ratio = r.ratio !== undefined ? r.ratio : r.baseline ? r.value / r.baseline : null;
  const pass = r.target === null || ratio === null ? null : r.bound === 'min' ? ratio >= r.target : ratio <= r.target;
  return { ...r, value: round(r.value), baseline: r.baseline === null ? null : round(r.baseline), ratio: ratio === null ? null : round(ratio, 3), pass };
}

export const info = (name: string, value: number, unit: string): Row => row({ name, value, unit, baseline: null, baselineName: '', ratio: null, target: null, bound: 'max' });

export const round = (n: number, digits = 2) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

export const packageRoot = () => path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const cliMain = () => path.join(packageRoot(), 'dist', 'cli', 'main.js');
export const benchFile = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));

export const isMain = (metaUrl: string) => !!process.argv[1] && fileURLToPath(metaUrl) === path.resolve(process.argv[1]);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (values: number[]) => percentile(values, 50);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mockcloud-bench-${prefix}-`));
}

/** Resident set size of a process in MB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100 on Linux)
}

/** Samples a process's RSS until stopped; reports the peak. */
export function rssSampler(pid: number, everyMs = 250) {
  let peak = 0;
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // exited
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(t);
      try {
        peak = Math.max(peak, rssMb(pid));
      } catch {
        // exited
      }
      return peak;
    },
  };
}

// Children are ended on every way out, so a failed or interrupted run leaves nothing listening.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    process.exit(130);
  });
}

export interface Proc {
  proc: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnNode(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; nodeArgs?: string[] } = {}): Proc {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], {
    cwd: opts.cwd ?? packageRoot(),
    env: { ...process.env, MOCKCLOUD_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      children.delete(proc);
      resolve(code);
    }),
  );
  return {
    proc,
    pid: proc.pid!,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 12_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 200; returns the milliseconds since `since` (hrtime ms). */
export async function waitFor200(url: string, child: Proc, opts: { since?: number; timeoutMs?: number; everyMs?: number } = {}): Promise<number> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`process exited before ${url} answered: ${child.output().slice(-2000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = net.connect({ host: '127.0.0.1', port: Number(new URL(url).port) }, () => {
        const u = new URL(url);
        req.write(`GET ${u.pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      });
      let head = '';
      req.on('data', (d) => {
        head += d.toString();
        if (head.includes('\r\n')) {
          resolve(/^HTTP\/1\.1 200/.test(head));
          req.destroy();
        }
      });
      req.on('error', () => resolve(false));
      req.on('close', () => resolve(false));
    });
    if (ok) return opts.since !== undefined ? nowMs() - opts.since : 0;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 in time: ${child.output().slice(-2000)}`);
    await sleep(opts.everyMs ?? 20);
  }
}

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export interface Mockcloud extends Proc {
  url: string;
}

/** Starts `mockcloud up|server` on a free port and waits for /ready. */
export async function startMockcloud(command: 'up' | 'server', args: string[], env: Record<string, string | undefined> = {}, nodeArgs: string[] = []): Promise<Mockcloud> {
  const port = await freePort();
  // BENCH_PRELOAD=1 loads bench/preload.ts's experiments into the server under test (see that file).
  const preload = process.env.BENCH_PRELOAD ? ['--import', benchFile('preload.js')] : [];
  const child = spawnNode([cliMain(), command, '--port', String(port), '--log-level', 'warn', ...args], { env, nodeArgs: [...preload, ...nodeArgs] });
  const url = `http://127.0.0.1:${port}`;
  try {
    // A `server` is ready only once a worker consumes its queue (GET /ready says so), and the worker
    // starts after it: wait for liveness here; the deployment waits for the consumer itself.
    await waitFor200(`${url}${command === 'server' ? '/health' : '/ready'}`, child, { timeoutMs: 60_000, everyMs: 50 });
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
  return { ...child, url };
}

/** A small JSON client on an undici pool; throws on an unexpected status. */
export function client(base: string, connections = 50) {
  const pool = new Pool(base, { connections, pipelining: 1 });
  async function call<T>(method: 'GET' | 'POST' | 'PATCH', p: string, body?: unknown, expect: number[] = [200, 201, 202], contentType = 'application/json'): Promise<T> {
    const res = await pool.request({
      method,
      path: p,
      headers: body === undefined ? {} : { 'content-type': contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (!expect.includes(res.statusCode)) throw new Error(`${method} ${p} → ${res.statusCode}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return { call, close: () => pool.close() };
}

/** Runs `count` tasks with at most `concurrency` at a time. */
export async function bounded(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++);
  });
  await Promise.all(lanes);
}

/** Prints rows as one aligned table. */
export function formatTable(rows: Row[]): string {
  const head = ['benchmark', 'value', 'baseline (same run)', 'ratio', 'target', 'ok'];
  const lines = rows.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline === null ? '—' : `${fmt(r.baseline)} ${r.unit}${r.baselineName ? ` (${r.baselineName})` : ''}`,
    r.ratio === null ? '—' : `${fmt(r.ratio)}×`,
    r.target === null ? 'info' : `${r.bound === 'min' ? '≥' : '≤'} ${r.target}×`,
    r.pass === null ? '' : r.pass ? 'PASS' : 'MISS',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmtLine = (l: string[]) => `| ${l.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmtLine(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmtLine)].join('\n');
}

const fmt = (n: number) => (Math.abs(n) >= 100 ? String(Math.round(n)) : String(round(n, n < 1 ? 3 : 2)));

/** Standalone entry for one benchmark module. */
export async function runStandalone(fn: () => Promise<Row[]>): Promise<void> {
  const rows = await fn();
  process.stdout.write(formatTable(rows) + '\n');
  process.exit(rows.some((r) => r.pass === false) ? 1 : 0);
}

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
