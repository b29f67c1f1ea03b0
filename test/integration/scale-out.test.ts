import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { openDb } from '../../core/db.js';
import { RabbitQueue } from '../../core/queue/rabbit-queue.js';
import { client, uniq } from '../support/http.js';
import { freePort, spawnCli, type Child } from '../support/process.js';
import { openSse } from '../support/sse.js';
import { distributedUrls, STACK } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

// The team deployment: several `mockcloud server` and `mockcloud worker` processes on PostgreSQL,
// RabbitMQ and Redis. Runs on the distributed stack only (CI), where those services are real.

if (STACK === 'distributed') {
  describe('integration: scale-out (2 servers, 3 workers)', function () {
    this.timeout(240_000);

    it('carries 1,000 VMs created through both servers to a terminal state, with events crossing servers, despite a killed worker', async () => {
      const urls = distributedUrls();
      const queue = `mockcloud-test-${randomUUID()}`;
      const env = {
        DATABASE_URL: urls.db,
        AMQP_URL: urls.amqp,
        REDIS_URL: urls.redis,
        MOCKCLOUD_QUEUE: queue,
        MOCKCLOUD_LEASE_MS: '1500',
        MOCKCLOUD_TIME_SCALE: '0.01',
        MOCKCLOUD_FAILURE_RATE: '0.1',
      };
      const children: Child[] = [];
      const db = openDb({ databaseUrl: urls.db });
      try {
        const ports = [await freePort(), await freePort()];
        for (const port of ports) children.push(spawnCli(['server', '--port', String(port)], env));
        const bases = ports.map((p) => `http://127.0.0.1:${p}`);
        // Servers answer /health at once; /ready waits for a worker consuming the queue.
        for (const base of bases) await waitFor(`server ${base}`, async () => (await fetch(`${base}/health`).catch(() => undefined))?.status === 200, 30_000, 100);
        const workers = [spawnCli(['worker'], env), spawnCli(['worker'], env), spawnCli(['worker'], env)];
        children.push(...workers);
        for (const base of bases) await waitFor(`server ${base} ready`, async () => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200, 30_000, 100);

        const [a, b] = bases.map((base) => client(base)) as [ReturnType<typeof client>, ReturnType<typeof client>];
        const e = (await a.post('/api/v1/environments', { name: uniq('scale') })).body;
        // A client of server A watches; the VMs below are all created through server B first.
        const sse = openSse(`${bases[0]}/api/v1/events?environment_id=${e.id}&kind=vm.create`);
        await waitFor('stream open', async () => sse.status === 200);

        const ops: string[] = [];
        const total = 1000;
        let next = 0;
        let killed = false;
        const submit = async () => {
          while (next < total) {
            const i = next++;
            const via = i < 50 ? b : i % 2 ? a : b;
            const r = await via.post('/api/v1/vms', { name: `vm-${i}`, environment_id: e.id, size: 'small', image: 'debian-12' });
            expect(r.status, r.text).to.equal(202);
            ops.push(r.body.operation_id);
            if (i === 400 && !killed) {
              killed = true;
              workers[0]!.proc.kill('SIGKILL');
            }
          }
        };
        await Promise.all(Array.from({ length: 16 }, submit));
        expect(ops).to.have.length(total);

        await waitFor(
          'every operation terminal',
          async () => Number((await db('operations').whereIn('id', ops).whereIn('status', ['succeeded', 'failed']).count({ n: '*' }))[0]!.n) === total,
          180_000,
          500,
        );
        const vms = await db('vms').where({ environment_id: e.id }).select('status');
        expect(vms).to.have.length(total);
        expect(vms.every((v: { status: string }) => v.status === 'running' || v.status === 'error')).to.equal(true);
        const terminal = await db('events').whereIn('operation_id', ops).whereIn('type', ['operation.succeeded', 'operation.failed']).select('operation_id');
        expect(terminal).to.have.length(total);
        expect(new Set(terminal.map((t: { operation_id: string }) => t.operation_id)).size).to.equal(total);

        const viaB = new Set(ops.slice(0, 50));
        await waitFor('server A to relay events of operations created through B', async () => sse.events.some((ev) => viaB.has(ev.data.operation_id) && ev.event === 'operation.succeeded'), 20_000);
        await sse.close();
      } finally {
        for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
        await Promise.all(children.map((c) => c.exited));
        await db.destroy();
        const q = await RabbitQueue.connect({ url: urls.amqp, queue });
        await q.deleteTopology();
        await q.close();
      }
    });
  });
}
