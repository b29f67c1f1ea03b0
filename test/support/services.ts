import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './process.js';
import { waitFor } from './wait.js';

// Private instances of the real services for fault drills: their own port and data directory, so
// stopping them disturbs nobody else's tests on this machine. Missing binaries make the drill fail,
// never skip (the issue asks for them in CI).

const run = promisify(execFile);
const PG_BIN = process.env.MOCKCLOUD_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PrivateService {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** A private PostgreSQL cluster (initdb + pg_ctl as the `postgres` user when run as root). */
export async function privatePostgres(): Promise<PrivateService> {
  for (const bin of ['initdb', 'pg_ctl']) {
    if (!fs.existsSync(path.join(PG_BIN, bin))) throw new Error(`the PostgreSQL drill needs ${PG_BIN}/${bin} (set MOCKCLOUD_TEST_PG_BIN)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mockcloud-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const pgUser = asRoot ? (await run('id', ['-u', 'postgres'])).stdout.trim() : undefined;
  if (asRoot) {
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    fs.chownSync(dir, Number(pgUser), gid);
  }
  // PostgreSQL refuses to run as root: run its tools as `postgres` then.
  const pg = (bin: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, bin), ...args]) : run(path.join(PG_BIN, bin), args);
  await pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const start = async () => {
    await pg('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  };
  const stop = async () => {
    await pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    destroy: async () => {
      await stop().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A private Redis on a free port, persisting nothing. */
export async function privateRedis(): Promise<PrivateService> {
  const bin = process.env.MOCKCLOUD_TEST_REDIS_BIN ?? 'redis-server';
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    const p = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    proc = p;
    const failed = new Promise<never>((_, reject) => p.once('error', (err) => reject(new Error(`the Redis drill needs ${bin}: ${err.message}`))));
    await Promise.race([
      failed,
      waitFor('private redis', async () => {
        const net = await import('node:net');
        return new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.end();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
      }, 10_000, 50),
    ]);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, start, stop, destroy: stop };
}
