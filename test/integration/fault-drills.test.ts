import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { openDb, type Db } from '../../core/db.js';
import { RedisBus } from '../../core/events/redis-bus.js';
import { client, uniq, type Client } from '../support/http.js';
import { freePort, spawnCli, type Child } from '../support/process.js';
import { privatePostgres, privateRedis } from '../support/services.js';
import { distributedUrls, STACK } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

// Fault drills (issue 9, SPEC §5 "never stuck"): real `mockcloud server`/`worker` processes, a
// dependency taken away mid-provisioning and given back, and nobody restarting anything by hand.
// Each drill ends with every operation terminal within a stated bound, exactly one completion per
// operation, and the processes that were not killed still the same processes.
//
// Outages last 5-6 s rather than the 20 s: that already outlasts every retry budget a
// client has (ioredis gives up a command after 3 reconnects, ~0.6 s; a refused PostgreSQL connect
// fails at once; RabbitMQ reconnects every 1 s) and the drills' 2-3 s leases, so each drill goes
// through the same states as a 20 s outage — requests refused or buffered, leases lapsed,
// reconnect loops running — at a third of the CI time.

const run = promisify(execFile);
const TAGS = { 'mockcloud:duration': '3', 'mockcloud:outcome': 'succeed' };

async function startServer(env: Record<string, string>): Promise<Child & { url: string; http: Client }> {
  const port = await freePort();
  const child = spawnCli(['server', '--port', String(port)], env);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`server on ${port}`, async () => {
    if (child.proc.exitCode !== null) throw new Error(`server exited: ${child.output()}`);
    return (await fetch(`${url}/health`).catch(() => undefined))?.status === 200;
  }, 20_000, 100);
  return { ...child, url, http: client(url) };
}

async function startWorker(env: Record<string, string>): Promise<Child & { health: string }> {
  const port = await freePort();
  const child = spawnCli(['worker'], { ...env, MOCKCLOUD_METRICS_PORT: String(port) });
  const health = `http://127.0.0.1:${port}/health`;
  await waitFor('worker consuming', async () => {
    if (child.proc.exitCode !== null) throw new Error(`worker exited: ${child.output()}`);
    return (await fetch(health).catch(() => undefined))?.status === 200;
  }, 20_000, 100);
  return { ...child, health };
}

async function createVms(http: Client, envId: string, n: number): Promise<string[]> {
  const ops: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12', tags: TAGS });
    expect(r.status, r.text).to.equal(202);
    ops.push(r.body.operation_id);
  }
  return ops;
}

/** Every operation terminal within `boundMs`, with exactly one terminal event each. */
async function expectAllTerminalOnce(db: Db, ops: string[], boundMs: number): Promise<void> {
  await waitFor(
    `all ${ops.length} operations terminal within ${boundMs / 1000} s`,
    async () => Number((await db('operations').whereIn('id', ops).whereIn('status', ['succeeded', 'failed']).count({ n: '*' }))[0]!.n) === ops.length,
    boundMs,
    250,
  );
  const terminal = (await db('events').whereIn('operation_id', ops).whereIn('type', ['operation.succeeded', 'operation.failed']).select('operation_id')) as { operation_id: string }[];
  expect(terminal, 'one terminal event per operation').to.have.length(ops.length);
  expect(new Set(terminal.map((t) => t.operation_id)).size).to.equal(ops.length);
}

const stopChild = async (c: Child | undefined) => {
  if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  await c.exited;
};

if (STACK === 'distributed') {
  describe('integration: fault drills (services going away)', function () {
    this.timeout(120_000);

    it('RabbitMQ closes the connections mid-provisioning: server and worker reconnect, all 20 operations finish once within 45 s', async () => {
      const urls = distributedUrls();
      const queue = `mockcloud-test-${randomUUID()}`;
      const env = { DATABASE_URL: urls.db, AMQP_URL: urls.amqp, REDIS_URL: urls.redis, MOCKCLOUD_QUEUE: queue, MOCKCLOUD_LEASE_MS: '3000' };
      const db = openDb({ databaseUrl: urls.db });
      let server: Awaited<ReturnType<typeof startServer>> | undefined;
      let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
      try {
        server = await startServer(env);
        // Issue 13: with nobody consuming, /ready says so instead of letting operations wait forever.
        const lonely = await server.http.get('/ready');
        expect(lonely.status).to.equal(503);
        expect(lonely.body.detail).to.contain('no consumer on the work queue');
        worker = await startWorker(env);
        await waitFor('server ready (a consumer on the queue)', async () => (await server!.http.get('/ready')).status === 200, 20_000, 100);
        const e = (await server.http.post('/api/v1/environments', { name: uniq('drill') })).body;
        const ops = await createVms(server.http, e.id, 10);

        // Close exactly this drill's connections (they carry the queue name), as a broker restart would.
        const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties']);
        const mine = stdout.split('\n').filter((l) => l.includes(queue)).map((l) => l.split('\t')[0]!);
        expect(mine.length, 'server and worker connections').to.be.at.least(2);
        for (const pid of mine) await run('rabbitmqctl', ['-q', 'close_connection', pid, 'fault drill']);

        // Requests keep being answered while the connections are re-established; their publishes wait.
        ops.push(...(await createVms(server.http, e.id, 10)));
        await expectAllTerminalOnce(db, ops, 45_000);
        await waitFor('worker /health 200 again', async () => (await fetch(worker!.health)).status === 200, 15_000, 200);
        expect(server.output()).to.contain('RabbitMQ connection lost');
        expect(worker.output()).to.contain('RabbitMQ connection lost');

        // A deleted work queue is declared again; the publisher survives a /ready probe finding it gone.
        const conn = await amqplib.connect(urls.amqp);
        const ch = await conn.createChannel();
        await ch.deleteQueue(queue);
        await conn.close();
        await server.http.get('/ready');
        await waitFor('ready again after the queue was deleted', async () => (await server!.http.get('/ready')).status === 200, 20_000, 250);
        const after = await createVms(server.http, e.id, 2);
        await expectAllTerminalOnce(db, after, 20_000);
        expect(server.proc.exitCode).to.equal(null);
        expect(worker.proc.exitCode).to.equal(null);
      } finally {
        await stopChild(worker);
        await stopChild(server);
        const conn = await amqplib.connect(urls.amqp).catch(() => undefined);
        if (conn) {
          const ch = await conn.createChannel();
          ch.on('error', () => undefined);
          for (const q of [queue, `${queue}.dead`]) await ch.deleteQueue(q).catch(() => undefined);
          await ch.deleteExchange(`${queue}.dlx`).catch(() => undefined);
          await conn.close().catch(() => undefined);
        }
        await db.destroy();
      }
    });

    it('a private Redis stops for 6 s: provisioning goes on, subscriptions come back, nothing prints "Unhandled error event"', async () => {
      const urls = distributedUrls();
      const redis = await privateRedis();
      const queue = `mockcloud-test-${randomUUID()}`;
      const env = { DATABASE_URL: urls.db, AMQP_URL: urls.amqp, REDIS_URL: redis.url, MOCKCLOUD_QUEUE: queue, MOCKCLOUD_LEASE_MS: '3000' };
      const db = openDb({ databaseUrl: urls.db });
      let server: Awaited<ReturnType<typeof startServer>> | undefined;
      let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
      const listener = await RedisBus.connect(redis.url);
      const publisher = await RedisBus.connect(redis.url);
      try {
        server = await startServer(env);
        worker = await startWorker(env);
        const e = (await server.http.post('/api/v1/environments', { name: uniq('drill') })).body;
        const ops = await createVms(server.http, e.id, 5);
        await redis.stop();
        // A first SUBSCRIBE while Redis is away fails; the channel must still be subscribed later.
        const heard: string[] = [];
        await listener.subscribe('drill-channel', (m) => heard.push(m));
        ops.push(...(await createVms(server.http, e.id, 5)));
        const ready = await server.http.get('/ready');
        expect(ready.status).to.equal(503);
        expect(ready.body.dependents).to.deep.include({ id: 'bus', type: 'dependency' });
        await sleep(6000 - 1000);
        await redis.start();
        await expectAllTerminalOnce(db, ops, 30_000);
        await waitFor('server ready again', async () => (await server!.http.get('/ready')).status === 200, 15_000, 200);
        await waitFor('the late subscription to deliver', async () => {
          await publisher.publish('drill-channel', 'hello');
          return heard.includes('hello');
        }, 15_000, 200);
        for (const c of [server, worker]) {
          expect(c.output()).to.not.contain('Unhandled error event');
          expect(c.output()).to.contain('Redis');
          expect(c.proc.exitCode).to.equal(null);
        }
      } finally {
        await listener.close();
        await publisher.close();
        await stopChild(worker);
        await stopChild(server);
        await redis.destroy();
        await db.destroy();
      }
    });

    it('a private PostgreSQL stops for 6 s: 503 unavailable meanwhile, /health and /metrics still served, all operations finish once within 40 s after', async () => {
      const pg = await privatePostgres();
      // No AMQP_URL: this server runs the engine itself, so the database is the only dependency.
      const env = { DATABASE_URL: pg.url, MOCKCLOUD_LEASE_MS: '2000' };
      let server: Awaited<ReturnType<typeof startServer>> | undefined;
      let db: Db | undefined;
      try {
        server = await startServer(env);
        db = openDb({ databaseUrl: pg.url });
        const e = (await server.http.post('/api/v1/environments', { name: uniq('drill') })).body;
        const ops = await createVms(server.http, e.id, 10);
        await db.destroy();
        db = undefined;
        await pg.stop();

        const list = await server.http.get('/api/v1/vms');
        expect(list.status, list.text).to.equal(503);
        expect(list.body.code).to.equal('unavailable');
        expect(list.headers.get('retry-after')).to.equal('5');
        const create = await server.http.post('/api/v1/environments', { name: uniq('env') });
        expect(create.status).to.equal(503);
        expect((await server.http.get('/health')).status).to.equal(200);
        expect((await fetch(`${server.url}/metrics`)).status).to.equal(200);
        expect((await fetch(`${server.url}/openapi.yaml`)).status).to.equal(200);
        expect((await server.http.get('/ready')).status).to.equal(503);
        await sleep(5000);
        await pg.start();

        db = openDb({ databaseUrl: pg.url });
        await expectAllTerminalOnce(db, ops, 40_000);
        await waitFor('API answering again', async () => (await server!.http.get('/api/v1/vms')).status === 200, 15_000, 200);
        const after = await createVms(server.http, e.id, 2);
        await expectAllTerminalOnce(db, after, 20_000);
        expect(server.proc.exitCode).to.equal(null);
        expect(server.output()).to.not.contain('Unhandled');
      } finally {
        await stopChild(server);
        await db?.destroy();
        await pg.destroy();
      }
    });

    it('a server and a worker SIGKILLed mid-run: the survivors finish all 20 operations once within 40 s', async () => {
      const urls = distributedUrls();
      const queue = `mockcloud-test-${randomUUID()}`;
      const env = { DATABASE_URL: urls.db, AMQP_URL: urls.amqp, REDIS_URL: urls.redis, MOCKCLOUD_QUEUE: queue, MOCKCLOUD_LEASE_MS: '1500' };
      const db = openDb({ databaseUrl: urls.db });
      const children: Child[] = [];
      try {
        const [a, b] = [await startServer(env), await startServer(env)];
        const [w1, w2] = [await startWorker(env), await startWorker(env)];
        children.push(a, b, w1, w2);
        const e = (await a.http.post('/api/v1/environments', { name: uniq('drill') })).body;
        const ops = [...(await createVms(a.http, e.id, 10)), ...(await createVms(b.http, e.id, 10))];
        await waitFor('work under way', async () => Number((await db('operations').whereIn('id', ops).where({ status: 'running' }).count({ n: '*' }))[0]!.n) >= 10, 15_000, 100);
        w1.proc.kill('SIGKILL');
        a.proc.kill('SIGKILL');
        await Promise.all([w1.exited, a.exited]);
        await expectAllTerminalOnce(db, ops, 40_000);
        for (const id of ops) expect((await b.http.get(`/api/v1/operations/${id}`)).body.status).to.equal('succeeded');
        expect(b.proc.exitCode).to.equal(null);
        expect(w2.proc.exitCode).to.equal(null);
      } finally {
        for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
        await Promise.all(children.map((c) => c.exited));
        const conn = await amqplib.connect(urls.amqp).catch(() => undefined);
        if (conn) {
          const ch = await conn.createChannel();
          ch.on('error', () => undefined);
          for (const q of [queue, `${queue}.dead`]) await ch.deleteQueue(q).catch(() => undefined);
          await ch.deleteExchange(`${queue}.dlx`).catch(() => undefined);
          await conn.close().catch(() => undefined);
        }
        await db.destroy();
      }
    });
  });
}
