import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config.js';
import type { Db } from '../core/db.js';
import { createLogger, explainStartupError, openInfrastructure, StartupError, untilSignal, type Infrastructure } from '../core/infrastructure.js';
import { createMetrics } from '../core/metrics.js';
import type { WorkQueue } from '../core/queue/queue.js';
import { startWorkerRuntime } from './runtime.js';

/**
 * What the worker's /health says: true now, not at start-up. A worker that lost its broker or
 * stopped consuming, or cannot reach the database, answers 503 so an orchestrator can see it.
 */
export async function workerHealth(queue: WorkQueue, db: Db): Promise<{ healthy: boolean; body: Record<string, unknown> }> {
  const { connected, consuming } = queue.status();
  const database = await Promise.race([
    db.raw('select 1').then(() => true, () => false),
    new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
  ]);
  const healthy = connected && consuming && database;
  return { healthy, body: { status: healthy ? 'ok' : 'unavailable', queue: connected ? 'connected' : 'disconnected', consuming, database: database ? 'ok' : 'down' } };
}

export function serveWorkerProbe(registry: Registry, infra: Pick<Infrastructure, 'queue' | 'db'>, host: string, port: number): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
    } else if (path === '/health') {
      const { healthy, body } = await workerHealth(infra.queue, infra.db);
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json', ...(healthy ? {} : { 'retry-after': '5' }) });
      res.end(JSON.stringify(body));
    } else {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'urn:mockcloud:problem:not_found', title: 'Not found', status: 404, code: 'not_found' }));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

// Composition root of `mockcloud worker`: consumes operations from RabbitMQ and plays them back.
// On SIGTERM it stops taking work, hands back what is in flight (another worker resumes it from
// where it was) and exits.

export async function runWorker(config: Config): Promise<void> {
  if (!config.amqpUrl || !config.databaseUrl) {
    throw new StartupError('`mockcloud worker` needs DATABASE_URL and AMQP_URL (for everything in one process, run `mockcloud up`)');
  }
  const logger = createLogger(config, 'mockcloud-worker');
  let infra: Infrastructure;
  try {
    infra = await openInfrastructure(config, logger, 'worker');
  } catch (err) {
    throw explainStartupError(err, config);
  }
  let inFlight = () => 0;
  const metrics = createMetrics('mockcloud-worker', { inFlight: () => inFlight(), queueDepth: () => infra.queue.depth() });
  const runtime = await startWorkerRuntime({
    db: infra.db,
    bus: infra.bus,
    queue: infra.queue,
    logger,
    leaseMs: config.leaseMs,
    sole: false,
    onFinished: (op, outcome) => metrics.operationsFinished.inc({ kind: op.kind, outcome }),
  });
  inFlight = () => runtime.engine.inFlight;
  // A worker has no API; this small listener gives Prometheus and healthchecks something to ask.
  const probe = config.metricsPort ? await serveWorkerProbe(metrics.registry, infra, config.host, config.metricsPort) : undefined;
  logger.info({ owner: runtime.owner, queue: config.queue, metrics_port: config.metricsPort || null }, 'mockcloud worker consuming');
  await untilSignal(logger);
  probe?.close();
  const deadline = setTimeout(() => process.exit(1), 10_000);
  deadline.unref();
  await runtime.stop();
  await infra.close();
  logger.info('worker stopped');
}
