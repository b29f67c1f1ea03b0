import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { migrateLatest, openDb, type Db } from './db.js';
import { InProcessBus, type Bus } from './events/bus.js';
import type { Dispatcher } from './operations/submit.js';
import { InProcessQueue, type WorkQueue } from './queue/queue.js';
import type { StoredSimulation } from './simulation/settings.js';

// What the composition roots (`server/main.ts` for `up`/`server`, `worker/main.ts` for `worker`)
// share: the logger, the connections and the signal handling. Only those roots call these
// functions; everything below them receives its dependencies ready-made.

export { createLogger } from './logger.js';

export const baseSimulation = (config: Config): StoredSimulation => ({
  time_scale: config.timeScale,
  seed: config.seed ?? null,
  failure_rate: config.failureRate,
  operations: {},
});

/** true = fine; a sentence = what is wrong (shown by /ready). */
export type InfraProbe = () => Promise<boolean | string>;

export interface Infrastructure {
  db: Db;
  bus: Bus;
  queue: WorkQueue;
  /** Readiness probes for what was configured (queue, bus, consumer). */
  probes: Record<string, InfraProbe>;
  embedded: boolean;
  sqliteFile: string;
  close(): Promise<void>;
}

export async function openInfrastructure(config: Config, logger: Logger, role: string): Promise<Infrastructure> {
  const embedded = !config.databaseUrl;
  const sqliteFile = config.memory ? ':memory:' : path.join(config.dataDir, 'mockcloud.db');
  const db = openDb(embedded ? { sqliteFile } : { databaseUrl: config.databaseUrl });
  await migrateLatest(db);
  const probes: Record<string, InfraProbe> = {};
  // Redis and RabbitMQ clients are loaded only when configured: the embedded mode starts faster
  // and smaller without them.
  let bus: Bus = new InProcessBus();
  if (config.redisUrl) {
    const { RedisBus } = await import('./events/redis-bus.js');
    const redis = await RedisBus.connect(config.redisUrl, {
      onError: (err, context) => logger.error({ err }, context),
      onEvent: (message, fields) => logger.info(fields ?? {}, message),
    });
    probes.bus = async () => (await redis.ping()) || 'Redis is unreachable (live events fall back to polling)';
    bus = redis;
  }
  let queue: WorkQueue = new InProcessQueue();
  if (config.amqpUrl) {
    const { RabbitQueue } = await import('./queue/rabbit-queue.js');
    const rabbit = await RabbitQueue.connect({
      url: config.amqpUrl,
      queue: config.queue,
      connectionName: `mockcloud-${role} ${process.pid} ${config.queue}`,
      onError: (err, context) => logger.error({ err }, context),
      onEvent: (message, fields) => logger.info(fields ?? {}, message),
    });
    probes.queue = async () => (await rabbit.ping()) || 'RabbitMQ is unreachable or the work queue is missing';
    // Issue 13: "ready" must also mean someone takes the work, or every operation waits forever.
    probes.consumer = async () => {
      const n = await rabbit.consumers();
      if (n === undefined) return 'cannot ask RabbitMQ for the work queue consumers';
      return n > 0 || `no consumer on the work queue ${config.queue}: no worker is taking operations`;
    };
    queue = rabbit;
  }
  return {
    db,
    bus,
    queue,
    probes,
    embedded,
    sqliteFile,
    async close() {
      await queue.close();
      await bus.close();
      await db.destroy();
    },
  };
}

/**
 * The API's view of the queue: a request waits for the broker's confirmation at most `waitMs`.
 * While the broker is away the message stays in the publisher's buffer and goes out when it
 * returns (or, past the buffer's timeout, the reconciler publishes it again); either way the
 * operation is already committed, so the client gets its 202 now.
 */
export function boundedDispatcher(queue: Dispatcher, logger: Logger, waitMs = 1000): Dispatcher {
  return {
    async dispatch(operationId) {
      let timer: NodeJS.Timeout | undefined;
      const published = queue.dispatch(operationId).catch((err) => logger.warn({ err, operation_id: operationId }, 'publish not confirmed; the reconciler will dispatch it again'));
      await Promise.race([published, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    },
  };
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
  if (e.syscall === 'listen' || (e.code === 'ENOTFOUND' && (e as { hostname?: string }).hostname === config.host)) {
    return new StartupError(`cannot listen on ${config.host}:${config.port} (${e.code ?? e.message}); check --host and --port`);
  }
  if (e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND') return new StartupError(`cannot reach a service (${e.message}); is it running?`);
  if (/^Timeout|timeout/.test(e.message ?? '') && config.amqpUrl) return new StartupError(`cannot reach a service (${e.message}); is RabbitMQ running?`);
  return err;
}
