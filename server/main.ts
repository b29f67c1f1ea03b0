import path from 'node:path';
import type { Server } from 'node:http';
import { pino, type Logger } from 'pino';
import type { Config } from '../core/config.js';
import { migrateLatest, openDb, type Db } from '../core/db.js';
import { InProcessBus, type Bus } from '../core/events/bus.js';
import { RedisBus } from '../core/events/redis-bus.js';
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
  stop(): Promise<void>;
}

export function createLogger(config: Config, name: string): Logger {
  return pino({ name, level: config.logLevel, base: { pid: process.pid, process: name } });
}

export async function startApi(config: Config, mode: Mode, logger: Logger): Promise<Running> {
  const embedded = !config.databaseUrl;
  if (mode === 'server' && embedded) {
    logger.warn('no DATABASE_URL: `mockcloud server` is using the embedded SQLite store; run `mockcloud up` for the all-in-one');
  }
  const sqliteFile = config.memory ? ':memory:' : path.join(config.dataDir, 'mockcloud.db');
  const db = openDb(embedded ? { sqliteFile } : { databaseUrl: config.databaseUrl });
  await migrateLatest(db);
  const bus: Bus = config.redisUrl ? await RedisBus.connect(config.redisUrl) : new InProcessBus();
  const probes: Record<string, Probe> = {};
  if (bus instanceof RedisBus) probes.bus = () => bus.ping();

  const services = createServices({ db, bus, probes });
  const app = createApp({ services, logger });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url, store: embedded ? (config.memory ? 'sqlite (memory)' : `sqlite ${sqliteFile}`) : 'postgresql' }, 'mockcloud API listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests still running after the grace period are cut so shutdown stays under 10 s.
        setTimeout(() => server.closeAllConnections(), 8000).unref();
      });
      await bus.close();
      await db.destroy();
    })());
  return { url, server, db, bus, stop };
}

/** Runs until SIGINT/SIGTERM, then shuts down gracefully. */
export async function runApi(config: Config, mode: Mode): Promise<void> {
  const logger = createLogger(config, mode === 'up' ? 'mockcloud' : 'mockcloud-server');
  let running: Running;
  try {
    running = await startApi(config, mode, logger);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new StartupError(`port ${config.port} on ${config.host} is already in use; pick another with --port`);
    if (e.code === 'ECONNREFUSED') throw new StartupError(`cannot reach a service (${e.message}); is it running?`);
    throw err;
  }
  if (mode === 'up') process.stderr.write(`mockcloud is up at ${running.url} (docs: ${running.url}/docs) — Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      running.stop().then(resolve, resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

export class StartupError extends Error {}
