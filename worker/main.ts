import type { Config } from '../core/config.js';
import { createLogger, explainStartupError, openInfrastructure, StartupError, untilSignal } from '../server/main.js';
import http from 'node:http';
import type { Registry } from 'prom-client';
import { createMetrics } from '../core/metrics.js';
import { startWorkerRuntime } from './runtime.js';

function serveMetrics(registry: Registry, host: string, port: number): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(await registry.metrics());
    } else if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
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
  let infra: Awaited<ReturnType<typeof openInfrastructure>>;
  try {
    infra = await openInfrastructure(config, logger);
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
  const probe = config.metricsPort ? await serveMetrics(metrics.registry, config.host, config.metricsPort) : undefined;
  logger.info({ owner: runtime.owner, queue: config.queue, metrics_port: config.metricsPort || null }, 'mockcloud worker consuming');
  await untilSignal(logger);
  probe?.close();
  const deadline = setTimeout(() => process.exit(1), 10_000);
  deadline.unref();
  await runtime.stop();
  await infra.queue.close();
  await infra.bus.close();
  await infra.db.destroy();
  logger.info('worker stopped');
}
