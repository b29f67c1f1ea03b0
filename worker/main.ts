import type { Config } from '../core/config.js';
import { createLogger, explainStartupError, openInfrastructure, StartupError, untilSignal } from '../server/main.js';
import { startWorkerRuntime } from './runtime.js';

// Composition root of `mockcloud worker`: consumes operations from RabbitMQ and plays them back.
// On SIGTERM it stops taking work, hands back what is in flight (another worker resumes it from
// where it was) and exits.

export async function runWorker(config: Config): Promise<void> {
  if (!config.amqpUrl || !config.databaseUrl) {
    throw new StartupError('`mockcloud worker` needs DATABASE_URL and AMQP_URL (for everything in one process, run `mockcloud up`)');
  }
  const logger = createLogger(config, 'mockcloud-worker');
  let infra: Awaited<ReturnType<typeof openInfrastructure>>;
  try {
    infra = await openInfrastructure(config, logger);
  } catch (err) {
    throw explainStartupError(err, config);
  }
  const runtime = await startWorkerRuntime({ db: infra.db, bus: infra.bus, queue: infra.queue, logger, leaseMs: config.leaseMs, sole: false });
  logger.info({ owner: runtime.owner, queue: config.queue }, 'mockcloud worker consuming');
  await untilSignal(logger);
  const deadline = setTimeout(() => process.exit(1), 10_000);
  deadline.unref();
  await runtime.stop();
  await infra.queue.close();
  await infra.bus.close();
  await infra.db.destroy();
  logger.info('worker stopped');
}
