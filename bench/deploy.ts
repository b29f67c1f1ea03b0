import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { RabbitQueue } from '../core/queue/rabbit-queue.js';
import { cliMain, log, sleep, spawnNode, startMockcloud, tempDir, type Mockcloud, type Proc } from './lib.js';

// A deployment under test, started as real processes: embedded (`mockcloud up` on a SQLite data dir)
// or distributed (`mockcloud server` + one `mockcloud worker` on PostgreSQL, RabbitMQ and Redis, with
// a database and a queue of its own). The bench reads the operations table directly to learn when
// work is done and how late it was; it never writes to it.

export const PG_ADMIN_URL = process.env.MOCKCLOUD_BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const AMQP_URL = process.env.MOCKCLOUD_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_URL = process.env.MOCKCLOUD_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type Mode = 'embedded' | 'distributed';

export interface Deployment {
  mode: Mode;
  api: Mockcloud;
  /** The process that runs the engine: `mockcloud up` itself, or the worker. */
  workerPid: number;
  /** Read-only use: counts and timings from the operations table. */
  db: Knex;
  stop(): Promise<void>;
}

export async function startDeployment(mode: Mode, opts: { timeScale: number; failureRate?: number; nodeArgs?: string[] }): Promise<Deployment> {
  const common = ['--time-scale', String(opts.timeScale), '--failure-rate', String(opts.failureRate ?? 0)];
  if (mode === 'embedded') {
    const dir = tempDir('data');
    const api = await startMockcloud('up', ['--data-dir', dir, ...common], {}, opts.nodeArgs);
    const db = knexFactory({ client: 'better-sqlite3', connection: { filename: path.join(dir, 'mockcloud.db'), options: { readonly: true } }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
    return {
      mode,
      api,
      workerPid: api.pid,
      db,
      async stop() {
        await db.destroy();
        await api.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  const suffix = randomUUID().replace(/-/g, '').slice(0, 12);
  const dbName = `mockcloud_bench_${suffix}`;
  const queue = `mockcloud.bench.${suffix}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const databaseUrl = Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${dbName}` }).toString();
  const env = { DATABASE_URL: databaseUrl, AMQP_URL, REDIS_URL, MOCKCLOUD_QUEUE: queue };
  let api: Mockcloud | undefined;
  let worker: Proc | undefined;
  const db = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
  const cleanup = async () => {
    await worker?.stop();
    await api?.stop();
    await db.destroy();
    const rabbit = await RabbitQueue.connect({ url: AMQP_URL, queue }).catch(() => undefined);
    await rabbit?.deleteTopology().catch(() => undefined);
    await rabbit?.close().catch(() => undefined);
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`drop database if exists ${dbName} with (force)`).catch((err: Error) => log(`could not drop ${dbName}: ${err.message}`));
    await c.end();
  };
  try {
    api = await startMockcloud('server', common, env, opts.nodeArgs);
    worker = spawnNode([cliMain(), 'worker', '--log-level', 'warn'], { env, nodeArgs: opts.nodeArgs });
    await waitForConsumer(queue, worker);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { mode, api, workerPid: worker.pid, db, stop: cleanup };
}

/** The worker is ready when RabbitMQ shows its consumer on our queue. */
async function waitForConsumer(queue: string, worker: Proc): Promise<void> {
  const amqp = await import('amqplib');
  const conn = await amqp.connect(AMQP_URL);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (worker.proc.exitCode !== null) throw new Error(`mockcloud worker exited: ${worker.output().slice(-2000)}`);
      const ch = await conn.createChannel();
      const ok = await ch.checkQueue(queue).then((q) => q.consumerCount > 0, () => false);
      await ch.close().catch(() => undefined);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`no consumer on ${queue}: ${worker.output().slice(-2000)}`);
      await sleep(100);
    }
  } finally {
    await conn.close();
  }
}

export interface OpTiming {
  created: number;
  started: number;
  finished: number;
  duration: number;
  status: string;
}

/** Timings of finished vm.create operations (epoch ms). */
export async function createTimings(db: Knex): Promise<OpTiming[]> {
  const rows = (await db('operations').where({ kind: 'vm.create' }).whereNotNull('finished_at').select('created_at', 'started_ms', 'finished_at', 'plan', 'status')) as {
    created_at: string;
    started_ms: number | string;
    finished_at: string;
    plan: string;
    status: string;
  }[];
  return rows.map((r) => ({
    created: Date.parse(r.created_at),
    started: Number(r.started_ms),
    finished: Date.parse(r.finished_at),
    // Plans hold simulated durations; started_ms is simulated time, which a fresh deployment's
    // clock anchors at wall time, so at time scale 1 (or 0) these line up with the wall clock.
    duration: (JSON.parse(r.plan) as { duration_ms: number }).duration_ms,
    status: r.status,
  }));
}

export async function finishedCreates(db: Knex): Promise<number> {
  const [r] = (await db('operations').where({ kind: 'vm.create' }).whereNotNull('finished_at').count({ n: '*' })) as { n: number | string }[];
  return Number(r!.n);
}

/** Waits until `count` creates have finished; throws after `timeoutMs` without progress. */
export async function waitFinished(db: Knex, count: number, opts: { stallMs?: number; everyMs?: number; onTick?: (done: number) => void } = {}): Promise<void> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const done = await finishedCreates(db);
    opts.onTick?.(done);
    if (done >= count) return;
    if (done !== last) {
      last = done;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > (opts.stallMs ?? 60_000)) {
      throw new Error(`stalled at ${done}/${count} finished operations`);
    }
    await sleep(opts.everyMs ?? 200);
  }
}
