import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { migrateLatest, openDb, type Db } from '../../core/db.js';
import { InProcessBus, type Bus } from '../../core/events/bus.js';
import { RedisBus } from '../../core/events/redis-bus.js';
import { InProcessQueue, type WorkQueue } from '../../core/queue/queue.js';
import { RabbitQueue } from '../../core/queue/rabbit-queue.js';
import { createApp, warmContract, type AppOptions } from '../../server/app.js';
import { client, uniq, type Client } from './http.js';
import { answerClientErrors } from '../../server/guards.js';
import { createServices, type Services } from '../../server/services.js';
import { startWorkerRuntime, type WorkerRuntime } from '../../worker/runtime.js';

// Which stack the suites run on. scripts/test.mjs runs every suite once embedded and, in CI or when
// asked, once more on the real PostgreSQL / RabbitMQ / Redis, with a fresh database per run and a
// fresh queue per test stack.
export const STACK = process.env.MOCKCLOUD_TEST_STACK === 'distributed' ? 'distributed' : 'embedded';

export const testLogger = () => pino({ level: process.env.MOCKCLOUD_TEST_LOG ?? 'silent' });

export interface TestStack {
  db: Db;
  bus: Bus;
  queue: WorkQueue;
  queueName: string;
  close(): Promise<void>;
}

export const distributedUrls = () => {
  const db = process.env.MOCKCLOUD_TEST_DATABASE_URL;
  const redis = process.env.MOCKCLOUD_TEST_REDIS_URL;
  const amqp = process.env.MOCKCLOUD_TEST_AMQP_URL;
  if (!db || !redis || !amqp) throw new Error('the distributed test stack needs MOCKCLOUD_TEST_DATABASE_URL, _REDIS_URL and _AMQP_URL (run it through npm test)');
  return { db, redis, amqp };
};

export async function openTestStack(opts: { queueName?: string } = {}): Promise<TestStack> {
  const queueName = opts.queueName ?? `mockcloud-test-${randomUUID()}`;
  if (STACK === 'distributed') {
    const urls = distributedUrls();
    const db = openDb({ databaseUrl: urls.db });
    await migrateLatest(db);
    const bus = await RedisBus.connect(urls.redis);
    const queue = await RabbitQueue.connect({ url: urls.amqp, queue: queueName });
    return {
      db,
      bus,
      queue,
      queueName,
      close: async () => {
        await queue.deleteTopology();
        await queue.close();
        await bus.close();
        await db.destroy();
      },
    };
  }
  const db = openDb({ sqliteFile: ':memory:' });
  await migrateLatest(db);
  const bus = new InProcessBus();
  const queue = new InProcessQueue();
  return { db, bus, queue, queueName, close: async () => { await queue.close(); await bus.close(); await db.destroy(); } };
}

export interface TestApiOptions {
  timeScale?: number;
  failureRate?: number;
  seed?: number | null;
  leaseMs?: number;
  /** Run a worker in the same process (default true). */
  worker?: boolean;
  observe?: AppOptions['observe'];
  /** CORS origins, the loopback Host check and the SSE buffer bound, as a composition root would pass them. */
  app?: Pick<AppOptions, 'corsOrigins' | 'loopbackOnly' | 'streamBufferBytes'>;
  /** MOCKCLOUD_MAX_STREAMS for this API. */
  maxStreams?: number;
  /** SPEC §10 auth mode (default off) and the admin token. */
  auth?: 'off' | 'soft' | 'enforce';
  adminToken?: string;
  rateLimiter?: AppOptions['rateLimiter'];
  metrics?: AppOptions['metrics'];
  /** Share another stack's database, bus and queue: a second replica of the same deployment. */
  stack?: TestStack;
}

export interface TestApi extends TestStack {
  baseUrl: string;
  services: Services;
  worker?: WorkerRuntime;
}

/** The API on port 0 with response validation on: any undocumented status or field fails the test. */
export async function startTestApi(opts: TestApiOptions = {}): Promise<TestApi> {
  const shared = opts.stack;
  const stack = shared ?? (await openTestStack());
  const logger = testLogger();
  // Settings and the clock left by an earlier suite (the distributed run shares one database) must
  // not leak into this one: drop the stored settings before the services read them.
  await stack.db('simulation_settings').where({ id: 1 }).delete();
  await stack.db('simulated_clock').where({ id: 1 }).update({ paused: false });
  const services = await createServices({
    db: stack.db,
    bus: stack.bus,
    dispatcher: stack.queue,
    simulation: { time_scale: opts.timeScale ?? 0, seed: opts.seed ?? null, failure_rate: opts.failureRate ?? 0, operations: {} },
    maxStreams: opts.maxStreams,
    auth: { mode: opts.auth ?? 'off', adminToken: opts.adminToken },
  });
  await stack.db('simulation_settings').where({ id: 1 }).delete();
  const worker = opts.worker === false
    ? undefined
    : await startWorkerRuntime({ db: stack.db, bus: stack.bus, queue: stack.queue, logger, leaseMs: opts.leaseMs ?? 5000, sole: false });
  const app = createApp({ services, logger, validateResponses: true, observe: opts.observe, rateLimiter: opts.rateLimiter, metrics: opts.metrics, ...opts.app });
  // Compiled before the first request, so /health and /ready go through the validator too.
  await warmContract(app);
  const listening = await listenLocal(app);
  answerClientErrors(listening.server);
  return {
    ...stack,
    services,
    worker,
    baseUrl: listening.baseUrl,
    close: async () => {
      await listening.close();
      await worker?.stop();
      await services.identity.stop();
      await services.clock.clock.close();
      if (!shared) await stack.close();
    },
  };
}

export interface Listening {
  server: Server;
  baseUrl: string;
  /** Drops kept-alive and streaming connections too, so the close never waits on a client. */
  close(): Promise<void>;
}

/** An app on a free loopback port. */
export async function listenLocal(app: { listen(port: number, host: string, cb: () => void): Server }): Promise<Listening> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    server,
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The API and an environment to put things in: the set-up most API suites start from. */
export async function startApiWithEnvironment(opts: TestApiOptions = {}): Promise<{ api: TestApi; http: Client; envId: string }> {
  const api = await startTestApi(opts);
  const http = client(api.baseUrl);
  const envId = (await http.post('/api/v1/environments', { name: uniq('env') })).body.id as string;
  return { api, http, envId };
}
