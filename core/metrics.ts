import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// Prometheus metrics (SPEC §9). Each process builds one registry in its composition root and hands
// the metric objects to whatever records them; nothing here is global.

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'operation' | 'method' | 'status'>;
  operationsFinished: Counter<'kind' | 'outcome'>;
  inFlight: Gauge;
  queueDepth: Gauge;
  eventsFanout: Counter;
  sseClients: Gauge;
  authzDenials: Counter<'mode' | 'code'>;
}

export interface MetricSources {
  inFlight?: () => number;
  queueDepth?: () => Promise<number>;
}

export function createMetrics(processName: string, sources: MetricSources = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ process: processName });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'mockcloud_http_request_duration_seconds',
      help: 'API request duration by OpenAPI operation',
      labelNames: ['operation', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    operationsFinished: new Counter({
      name: 'mockcloud_operations_finished_total',
      help: 'Operations this process finished, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'mockcloud_operations_in_flight',
      help: 'Operations this worker is playing back right now',
      registers: [registry],
      collect() {
        if (sources.inFlight) this.set(sources.inFlight());
      },
    }),
    queueDepth: new Gauge({
      name: 'mockcloud_queue_depth',
      help: 'Messages waiting in the work queue',
      registers: [registry],
      async collect() {
        if (sources.queueDepth) this.set(await sources.queueDepth().catch(() => -1));
      },
    }),
    eventsFanout: new Counter({
      name: 'mockcloud_events_fanout_total',
      help: 'Events written to SSE clients',
      registers: [registry],
    }),
    sseClients: new Gauge({
      name: 'mockcloud_sse_clients',
      help: 'Open SSE streams',
      registers: [registry],
    }),
    authzDenials: new Counter({
      name: 'mockcloud_authz_denials_total',
      help: 'Requests auth denied (enforce) or would have denied (soft), by mode and code',
      labelNames: ['mode', 'code'],
      registers: [registry],
    }),
  };
}
