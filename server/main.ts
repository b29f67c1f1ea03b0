import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Response } from 'express';
import type { Config } from '../core/config.js';
import type { Db } from '../core/db.js';
import type { Bus } from '../core/events/bus.js';
import { baseSimulation, boundedDispatcher, createLogger, explainStartupError, openInfrastructure, StartupError, untilSignal } from '../core/infrastructure.js';
import { createMetrics } from '../core/metrics.js';
import type { WorkQueue } from '../core/queue/queue.js';
import { startWorkerRuntime, type WorkerRuntime } from '../worker/runtime.js';
import { createApp, safeDefaults, warmContract } from './app.js';
import { answerClientErrors } from './guards.js';
import { createServices } from './services.js';

// Composition root for the API process (`mockcloud server`) and for the embedded all-in-one
// (`mockcloud up`). It alone opens connections and handles signals (with the shared helpers of
// core/infrastructure.ts).

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

export async function startApi(config: Config, mode: Mode, logger: Logger): Promise<Running> {
  const infra = await openInfrastructure(config, logger, mode);
  const { db, bus, queue, embedded, sqliteFile } = infra;
  // `up` owns its simulation: its configuration is the starting point. A `server` is one replica
  // among several that a team shares; starting it must not undo the team's PATCH /simulation.
  if (mode === 'up') await db('simulation_settings').where({ id: 1 }).delete();
  // The engine runs in this process without a broker: it needs no consumer probe then.
  const adminToken = config.auth !== 'off' ? (config.adminToken ?? (mode === 'up' ? bootstrapAdminToken(config) : undefined)) : undefined;
  const services = await createServices({
    db,
    bus,
    dispatcher: config.amqpUrl ? boundedDispatcher(queue, logger) : queue,
    simulation: baseSimulation(config),
    probes: infra.probes,
    maxStreams: config.maxStreams,
    auth: { mode: config.auth, adminToken },
  });
  const rateLimiter = await openRateLimiter(config);
  if (config.init) {
    // Before any worker or listener starts, so a bad file leaves nothing running behind it.
    await applyInit(services, config.init, logger).catch(async (err: unknown) => {
      await services.clock.clock.close().catch(() => undefined);
      await infra.close().catch(() => undefined);
      throw err;
    });
  }
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
  const app = createApp({ services, logger, metrics, streams, rateLimiter: rateLimiter?.limiter, ...safeDefaults(config) });
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      // Express 5 hands a listen error (EADDRINUSE…) to this callback instead of throwing it.
      const s = app.listen(config.port, config.host, (err?: Error) => (err ? reject(err) : resolve(s)));
    });
  } catch (err) {
    // Nothing listens: release what was opened so the process can exit with the one-line error.
    await worker?.stop();
    await infra.close();
    throw err;
  }
  answerClientErrors(server);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (config.auth !== 'off' && !adminToken) logger.warn('auth is on without MOCKCLOUD_ADMIN_TOKEN: nobody can manage users and projects here');
  logger.info({ auth: config.auth, admin_token: adminToken ? 'set' : 'none', rate_limit: config.rateLimit ? `${config.rateLimit.points}/${config.rateLimit.durationS}s${config.redisUrl ? ' (redis)' : ''}` : 'off' }, `auth ${config.auth}`);
  logger.info({ url, mode, store: embedded ? (config.memory ? 'sqlite (memory)' : `sqlite ${sqliteFile}`) : 'postgresql', queue: config.amqpUrl ? 'rabbitmq' : 'in-process', bus: config.redisUrl ? 'redis' : 'in-process' }, 'mockcloud API listening');
  // The contract compiles after listen: probes answer meanwhile, API requests wait for it.
  setImmediate(() => warmContract(app).catch((err: unknown) => logger.error({ err }, 'openapi.yaml does not compile')));

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stop accepting, let requests in flight finish, tell SSE clients to come back later.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const res of streams) res.end('retry: 2000\n\n');
      services.events.stop(); // and refuse streams asked for while the server drains
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), 8000);
      await closed;
      clearTimeout(cut);
      await worker?.stop();
      await services.clock.clock.close();
      await services.identity.stop();
      rateLimiter?.close();
      await infra.close();
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

/** --init / MOCKCLOUD_INIT: a file that cannot be read or applied stops start-up with one line. */
async function applyInit(services: Awaited<ReturnType<typeof createServices>>, file: string, logger: Logger): Promise<void> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new StartupError(`cannot read MOCKCLOUD_INIT / --init file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const report = await services.admin.applyInit(file, text);
    logger.info({ file, format: report.format, added: report.summary?.added, changed: report.summary?.changed }, 'init file applied');
  } catch (err) {
    throw new StartupError(`init file ${file} not applied: ${(err as Error).message}`);
  }
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
