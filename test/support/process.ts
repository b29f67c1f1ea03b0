import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';

export const cliPath = () => path.join(packageRoot(), 'dist', 'cli', 'main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs `mockcloud <args>` as a real child process, capturing its output. */
export function spawnCli(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [cliPath(), ...args], { env: { ...process.env, MOCKCLOUD_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

/** Starts `mockcloud up` on a free port and waits until /ready answers 200. */
export async function startUp(args: string[], env: Record<string, string> = {}): Promise<Child & { url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawnCli(['up', '--port', String(port), ...args], env);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`mockcloud up exited: ${child.output()}`);
    try {
      if ((await fetch(`${url}/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`mockcloud up did not get ready: ${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    ...child,
    url,
    stop: async () => {
      if (child.proc.exitCode === null) child.proc.kill('SIGTERM');
      await child.exited;
    },
  };
}
