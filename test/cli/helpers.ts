import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

// The CLI as users run it: `node dist/cli/main.js …` in a child process, against a real
// `mockcloud up --memory` on a free port.

export const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface Up {
  endpoint: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `mockcloud up` on a free port (or `port`); in memory unless `extra` names a --data-dir. */
export async function startUp(extra: string[] = [], port?: number): Promise<Up> {
  port ??= await freePort();
  const storage = extra.includes('--data-dir') ? [] : ['--memory'];
  const child = spawn(process.execPath, [MAIN, 'up', ...storage, '--port', String(port), '--time-scale', '0.01', '--log-level', 'silent', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOCKCLOUD_TIME_SCALE: undefined, MOCKCLOUD_PORT: undefined },
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mockcloud up did not start: ${err}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('mockcloud is up at')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mockcloud up exited with ${code}: ${err}`));
    });
  });
  child.stdout!.resume();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (stdout/stderr are pipes, so output is the plain kind). */
export function cli(endpoint: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: undefined, MOCKCLOUD_OUTPUT: undefined, MOCKCLOUD_TOKEN: undefined, MOCKCLOUD_ENDPOINT: endpoint, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the CLI and hands back the process, for long-running commands (tail, --wait + Ctrl-C). */
export function spawnCli(endpoint: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: undefined, MOCKCLOUD_OUTPUT: undefined, MOCKCLOUD_ENDPOINT: endpoint, ...env },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  /** Resolves once stdout+stderr match `re` (rejects after `ms`). */
  const until = (re: RegExp, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        if (re.test(out.stdout + out.stderr)) return resolve();
        if (Date.now() - started > ms) return reject(new Error(`timed out waiting for ${re}; got:\n${out.stdout}\n${out.stderr}`));
        setTimeout(check, 25);
      };
      check();
    });
  return { child, out, exited, until };
}

let n = 0;
export const uniqName = (prefix: string) => `${prefix}-${process.pid}-${(n++).toString(36)}`;
