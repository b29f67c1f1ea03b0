import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import { pino, type Logger } from 'pino';
import type { Config } from '../core/config.js';
import { createMetrics } from '../core/metrics.js';
import type { Response } from 'express';
import { migrateLatest, openDb, type Db } from '../core/db.js';
import { InProcessBus, type Bus } from '../core/events/bus.js';
import { InProcessQueue, type WorkQueue } from '../core/queue/queue.js';
import type { StoredSimulation } from '../core/simulation/settings.js';
import { startWorkerRuntime, type WorkerRuntime } from '../worker/runtime.js';
import { createApp } from './app.js';
import { createServices, type Probe } from './services.js';

// Composition root for the API process (`mockcloud server`) and for the embedded all-in-one
// (`mockcloud up`). It alone opens connections and handles signals.

export type Mode = 'up' | 'server';

export interface Running {
  url: string;
  server: Server;
  db: Db;
  bus: Bus;
  queue: WorkQueue;
  worker?: WorkerRuntime;
  stop(): Promise<void>;
}

export function createLogger(config: Config, name: string): Logger {
  return pino({ name, level: config.logLevel, base: { pid: process.pid, process: name } });
}

export const baseSimulation = (config: Config): StoredSimulation => ({
  time_scale: config.timeScale,
  seed: config.seed ?? null,
  failure_rate: config.failureRate,
  operations: {},
});

export async function openInfrastructure(config: Config, logger: Logger) {
  const embedded = !config.databaseUrl;
  const sqliteFile = config.memory ? ':memory:' : path.join(config.dataDir, 'mockcloud.db');
  const db = openDb(embedded ? { sqliteFile } : { databaseUrl: config.databaseUrl });
  await migrateLatest(db);
  const probes: Record<string, Probe> = {};
  // Redis and RabbitMQ clients are loaded only when configured: the embedded mode starts faster
  // and smaller without them.
  let bus: Bus = new InProcessBus();
  if (config.redisUrl) {
    const { RedisBus } = await import('../core/events/redis-bus.js');
    const redis = await RedisBus.connect(config.redisUrl);
    probes.bus = () => redis.ping();
    bus = redis;
  }
  let queue: WorkQueue = new InProcessQueue();
  if (config.amqpUrl) {
    const { RabbitQueue } = await import('../core/queue/rabbit-queue.js');
    const rabbit = await RabbitQueue.connect({ url: config.amqpUrl, queue: config.queue, onError: (err, context) => logger.error({ err, context }, 'queue error') });
    probes.queue = () => rabbit.ping();
    queue = rabbit;
  }
  return { db, bus, queue, probes, embedded, sqliteFile };
}

export async function startApi(config: Config, mode: Mode, logger: Logger): Promise<Running> {
  const { db, bus, queue, probes, embedded, sqliteFile } = await openInfrastructure(config, logger);
  // Start-up configuration is the simulation's starting point; PATCH /simulation changes it at run time.
  await db('simulation_settings').where({ id: 1 }).delete();
  const adminToken = config.auth !== 'off' ? (config.adminToken ?? (mode === 'up' ? bootstrapAdminToken(config) : undefined)) : undefined;
  const services = await createServices({ db, bus, dispatcher: queue, simulation: baseSimulation(config), probes, auth: { mode: config.auth, adminToken } });
  const rateLimiter = await openRateLimiter(config);
  // Without a broker there is no separate worker to reach: the API process runs the engine itself.
  let inFlight = () => 0;
  const metrics = createMetrics(mode === 'up' ? 'mockcloud' : 'mockcloud-server', { inFlight: () => inFlight(), queueDepth: () => queue.depth() });
  const worker = config.amqpUrl
    ? undefined
    : await startWorkerRuntime({
        db,
        bus,
        queue,
        logger,
        leaseMs: config.leaseMs,
        sole: embedded,
        onFinished: (op, outcome) => metrics.operationsFinished.inc({ kind: op.kind, outcome }),
      });
  if (worker) inFlight = () => worker.engine.inFlight;
  const streams = new Set<Response>();
  const app = createApp({ services, logger, metrics, streams, rateLimiter: rateLimiter?.limiter });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (config.auth !== 'off' && !adminToken) logger.warn('auth is on without MOCKCLOUD_ADMIN_TOKEN: nobody can manage users and projects here');
  logger.info({ auth: config.auth, admin_token: adminToken ? 'set' : 'none', rate_limit: config.rateLimit ? `${config.rateLimit.points}/${config.rateLimit.durationS}s${config.redisUrl ? ' (redis)' : ''}` : 'off' }, `auth ${config.auth}`);
  logger.info({ url, mode, store: embedded ? (config.memory ? 'sqlite (memory)' : `sqlite ${sqliteFile}`) : 'postgresql', queue: config.amqpUrl ? 'rabbitmq' : 'in-process', bus: config.redisUrl ? 'redis' : 'in-process' }, 'mockcloud API listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stop accepting, let requests in flight finish, tell SSE clients to come back later.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const res of streams) res.end('retry: 2000\n\n');
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), 8000);
      await closed;
      clearTimeout(cut);
      await worker?.stop();
      await services.identity.stop();
      rateLimiter?.close();
      await queue.close();
      await bus.close();
      await db.destroy();
    })());
  return { url, server, db, bus, queue, worker, stop };
}

/** Runs until SIGINT/SIGTERM, then shuts down gracefully. */
export async function runApi(config: Config, mode: Mode): Promise<void> {
  const logger = createLogger(config, mode === 'up' ? 'mockcloud' : 'mockcloud-server');
  let running: Running;
  try {
    running = await startApi(config, mode, logger);
  } catch (err) {
    throw explainStartupError(err, config);
  }
  if (mode === 'up') process.stderr.write(`mockcloud is up at ${running.url} (docs: ${running.url}/docs) — Ctrl-C to stop\n`);
  await untilSignal(logger);
  await running.stop();
}

/**
 * `mockcloud up` with auth on and no MOCKCLOUD_ADMIN_TOKEN: a generated token, kept in the data dir
 * (0600) so restarts keep it, and printed once, when it is made (SPEC §10). --memory keeps nothing,
 * so there it is new and printed on every start.
 */
export function bootstrapAdminToken(config: Config): string {
  const file = path.join(config.dataDir, 'admin-token');
  if (!config.memory && fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const token = `mcadmin_${randomBytes(32).toString('base64url')}`;
  if (!config.memory) {
    fs.mkdirSync(config.dataDir, { recursive: true });
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  }
  process.stderr.write(`mockcloud: generated the admin token (shown once${config.memory ? '' : `, kept in ${file}`}):\n  ${token}\n`);
  return token;
}

/** Rate limiting (SPEC §10): counters in Redis when replicas share one, else in this process. */
async function openRateLimiter(config: Config) {
  if (!config.rateLimit) return undefined;
  const { createRateLimiter } = await import('../core/identity/rate-limit.js');
  if (!config.redisUrl) return { limiter: createRateLimiter(config.rateLimit), close: () => undefined };
  const { Redis } = await import('ioredis');
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', () => undefined); // the limiter's memory insurance takes over while Redis is away
  return { limiter: createRateLimiter(config.rateLimit, { redis }), close: () => redis.disconnect() };
}

export function untilSignal(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      // A second signal means "now".
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

export class StartupError extends Error {
  override name = 'StartupError';
}

export function explainStartupError(err: unknown, config: Config): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return new StartupError(`port ${config.port} on ${config.host} is already in use; pick another with --port`);
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND') return new StartupError(`cannot reach a service (${e.message}); is it running?`);
  return err;
}
