import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../server/app.js';
import { toAppError } from '../../server/problem.js';
import { createServices } from '../../server/services.js';
import { serveWorkerProbe } from '../../worker/main.js';
import { createMetrics } from '../../core/metrics.js';
import type { QueueStatus } from '../../core/queue/queue.js';
import { client } from '../support/http.js';
import { listenLocal, openTestStack, startTestApi, testLogger, type Listening, type TestApi, type TestStack } from '../support/stack.js';

describe('api: /health and /ready', function () {
  let api: TestApi;
  before(async () => {
    api = await startTestApi();
  });
  after(async () => api.close());

  it('ignores query parameters on /health and /ready (probes add cache busters), answering their documented shapes', async () => {
    const http = client(api.baseUrl);
    const health = await http.get('/health?probe=k8s&_=123');
    expect(health.status, health.text).to.equal(200);
    expect(health.body).to.include({ status: 'ok' }); // and the server's version (mockcloud status shows it)
    const ready = await http.get('/ready?verbose=1');
    expect(ready.status, ready.text).to.equal(200);
    expect(ready.body.status).to.equal('ready');
  });
});

describe('api: what /ready says when something is wrong', function () {
  let stack: TestStack;
  let listening: Listening;
  let base: string;
  before(async () => {
    stack = await openTestStack();
    const services = await createServices({
      db: stack.db,
      bus: stack.bus,
      dispatcher: stack.queue,
      simulation: { time_scale: 0, seed: null, failure_rate: 0, operations: {} },
      probes: { consumer: async () => 'no consumer on the work queue q1: no worker is taking operations' },
    });
    const app = createApp({ services, logger: testLogger(), validateResponses: true });
    listening = await listenLocal(app);
    base = listening.baseUrl;
  });
  after(async () => {
    await listening.close();
    await stack.close();
  });

  it('names the missing consumer in the 503 detail, while /health stays 200', async () => {
    const http = client(base);
    const r = await http.get('/ready?x=1');
    expect(r.status).to.equal(503);
    expect(r.body.code).to.equal('unavailable');
    expect(r.body.detail).to.contain('no consumer on the work queue');
    expect(r.body.dependents).to.deep.equal([{ id: 'consumer', type: 'dependency' }]);
    expect(r.headers.get('retry-after')).to.equal('5');
    expect((await http.get('/health')).status).to.equal(200);
  });
});

describe('unit: a database that is away is a 503, not a 500', () => {
  const cases: [string, unknown][] = [
    ['connection refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['PostgreSQL shutting down (57P01)', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })],
    ['PostgreSQL starting up (57P03)', Object.assign(new Error('the database system is starting up'), { code: '57P03' })],
    ['a connection exception (08006)', Object.assign(new Error('connection failure'), { code: '08006' })],
    ['a dropped socket', new Error('Connection terminated unexpectedly')],
    ['a pool that cannot get a connection', Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' })],
    ['both addresses refused', Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {})],
  ];
  for (const [what, err] of cases) {
    it(`maps ${what} to 503 unavailable with Retry-After`, () => {
      const e = toAppError(err);
      expect(e.code).to.equal('unavailable');
      expect(e.status).to.equal(503);
      expect(e.retryAfter).to.be.greaterThan(0);
    });
  }

  it('keeps other database errors a 500 (they are bugs)', () => {
    expect(toAppError(Object.assign(new Error('syntax error'), { code: '42601' })).code).to.equal('internal_error');
  });
});

describe('api: the worker /health tells what is true now', function () {
  let stack: TestStack;
  before(async () => {
    stack = await openTestStack();
  });
  after(async () => stack.close());

  it('answers 503 while the worker is not consuming or has lost its broker, 200 once it consumes again', async () => {
    let status: QueueStatus = { connected: true, consuming: false };
    const queue = Object.assign(Object.create(stack.queue) as typeof stack.queue, { status: () => status });
    const probe = await serveWorkerProbe(createMetrics('test-worker').registry, { queue, db: stack.db }, '127.0.0.1', 0);
    try {
      const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/health?from=k8s`;
      let r = await fetch(url);
      expect(r.status).to.equal(503);
      expect(await r.json()).to.deep.include({ status: 'unavailable', consuming: false, queue: 'connected', database: 'ok' });
      status = { connected: false, consuming: false };
      expect(await (await fetch(url)).json()).to.deep.include({ queue: 'disconnected' });
      status = { connected: true, consuming: true };
      r = await fetch(url);
      expect(r.status).to.equal(200);
      expect(await r.json()).to.deep.equal({ status: 'ok', queue: 'connected', consuming: true, database: 'ok' });
    } finally {
      await new Promise<void>((res) => probe.close(() => res()));
    }
  });
});
