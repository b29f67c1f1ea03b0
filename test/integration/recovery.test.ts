import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../core/config.js';
import { isPostgres, type Db } from '../../core/db.js';
import type { Dispatcher } from '../../core/operations/submit.js';
import { startApi } from '../../server/main.js';
import { Reconciler } from '../../worker/reconciler.js';
import { startWorkerRuntime, workerId } from '../../worker/runtime.js';
import { client, uniq } from '../support/http.js';
import { distributedUrls, STACK, startTestApi, testLogger } from '../support/stack.js';
import { settle, waitFor } from '../support/wait.js';

const vmBody = (envId: string, tags: Record<string, string> = {}) => ({ name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12', tags });

/** Makes one VM's move to `running` fail inside the database, whatever the worker does. */
async function poison(db: Db, vmId: string): Promise<() => Promise<void>> {
  const name = `poison_${vmId.replace(/[^a-z0-9]/g, '_')}`;
  if (isPostgres(db)) {
    await db.raw(`create function ${name}() returns trigger language plpgsql as $$ begin if new.id = '${vmId}' and new.status = 'running' then raise exception 'poisoned row'; end if; return new; end $$`);
    await db.raw(`create trigger ${name} before update on vms for each row execute function ${name}()`);
    return async () => {
      await db.raw(`drop trigger if exists ${name} on vms`);
      await db.raw(`drop function if exists ${name}()`);
    };
  }
  await db.raw(`create trigger ${name} before update of status on vms when new.id = '${vmId}' and new.status = 'running' begin select raise(abort, 'poisoned row'); end`);
  return async () => {
    await db.raw(`drop trigger if exists ${name}`);
  };
}

describe('integration: recovery from bad rows, lost publishes, restarts', function () {
  this.timeout(60_000);

  it('fails a poison operation with completion_failed and completes the rest of its batch', async () => {
    const api = await startTestApi({ timeScale: 1 });
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const http = client(api.baseUrl);
      const env = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
      // The same short duration, so they come due together and share a completion transaction.
      const tags = { 'mockcloud:duration': '2', 'mockcloud:outcome': 'succeed' };
      const created = [];
      for (let i = 0; i < 6; i++) created.push((await http.post('/api/v1/vms', vmBody(env.id, tags))).body);
      const bad = created[2]!;
      cleanups.push(await poison(api.db, bad.id));
      const ops = await Promise.all(created.map((vm) => settle(http, vm.operation_id, 20_000)));
      for (const [i, op] of ops.entries()) {
        if (i === 2) {
          expect(op.status).to.equal('failed');
          expect(op.error.code).to.equal('completion_failed');
          expect(op.error.message).to.contain('poisoned row');
        } else {
          expect(op.status, op.id).to.equal('succeeded');
        }
      }
      expect((await http.get(`/api/v1/vms/${bad.id}`)).body.status).to.equal('error');
      const terminal = await api.db('events').whereIn('operation_id', ops.map((o) => o.id)).whereIn('type', ['operation.succeeded', 'operation.failed']).select('operation_id');
      expect(terminal).to.have.length(6);
    } finally {
      for (const c of cleanups) await c();
      await api.close();
    }
  });

  it('stamps dispatched_ms only for publishes the queue confirmed, so an unconfirmed one is retried on the next pass', async () => {
    const api = await startTestApi({ timeScale: 0, worker: false });
    try {
      const http = client(api.baseUrl);
      const env = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
      const vm = (await http.post('/api/v1/vms', vmBody(env.id))).body;
      let attempts = 0;
      let up = false;
      const flaky: Dispatcher = {
        async dispatch() {
          attempts++;
          if (!up) throw new Error('broker away');
        },
      };
      const reconciler = new Reconciler({ db: api.db, dispatcher: flaky, logger: testLogger(), intervalMs: 1000, pendingGraceMs: 60_000, retentionMs: 86_400_000 });
      await reconciler.runOnce(0);
      expect(attempts).to.equal(1);
      expect((await api.db('operations').where({ id: vm.operation_id }).first()).dispatched_ms).to.equal(null);
      // Not stamped, so the next pass (even with a long grace period) publishes it again.
      up = true;
      await reconciler.runOnce(0);
      expect(attempts).to.equal(2);
      const row = await api.db('operations').where({ id: vm.operation_id }).first();
      expect(Number(row.dispatched_ms)).to.be.greaterThan(0);
      // Confirmed: a pass within the grace period leaves it alone.
      await reconciler.runOnce(60_000);
      expect(attempts).to.equal(2);
    } finally {
      await api.close();
    }
  });

  it('keeps the team simulation settings when an API replica starts; only `up` applies its configuration', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mockcloud-sim-'));
    const env: NodeJS.ProcessEnv =
      STACK === 'distributed'
        ? { DATABASE_URL: distributedUrls().db, MOCKCLOUD_TIME_SCALE: '0.5' }
        : { MOCKCLOUD_DATA_DIR: dir, MOCKCLOUD_TIME_SCALE: '0.5' };
    const logger = testLogger();
    const config = loadConfig({ ...env, MOCKCLOUD_PORT: '0', MOCKCLOUD_LOG_LEVEL: 'silent' });
    try {
      let running = await startApi(config, 'up', logger);
      const http = () => client(running.url);
      try {
        const patched = await http().patch('/api/v1/simulation', { time_scale: 0.02 });
        expect(patched.status, patched.text).to.equal(200);
      } finally {
        await running.stop();
      }
      running = await startApi(config, 'server', logger);
      try {
        expect((await http().get('/api/v1/simulation')).body.time_scale).to.equal(0.02);
      } finally {
        await running.stop();
      }
      running = await startApi(config, 'up', logger);
      try {
        expect((await http().get('/api/v1/simulation')).body.time_scale).to.equal(0.5);
      } finally {
        await running.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets a worker with a 253-character hostname (a Kubernetes pod name) claim and finish work', async () => {
    const pod = `${'a'.repeat(200)}-${'b'.repeat(46)}-7f9c2`;
    expect(pod).to.have.length(253);
    const owner = workerId(pod);
    expect(owner.length).to.be.at.most(140);
    expect(workerId(`${'a'.repeat(200)}-x`).slice(0, 120)).to.not.equal(owner.slice(0, 120)); // distinct hosts stay distinct
    const api = await startTestApi({ timeScale: 0.01, worker: false });
    const worker = await startWorkerRuntime({ db: api.db, bus: api.bus, queue: api.queue, logger: testLogger(), leaseMs: 5000, sole: false, owner });
    try {
      const http = client(api.baseUrl);
      const env = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
      const vm = (await http.post('/api/v1/vms', vmBody(env.id, { 'mockcloud:outcome': 'succeed' }))).body;
      await waitFor('the long-named worker to claim it', async () => (await api.db('operations').where({ id: vm.operation_id, lease_owner: owner }).first()) ?? (await api.db('operations').where({ id: vm.operation_id, status: 'succeeded' }).first()));
      expect((await settle(http, vm.operation_id)).status).to.equal('succeeded');
      // A full-length owner id also fits the column (an unbounded id of a 253-character host, pid and tag fits too).
      const longest = `${pod}-4194304-abcdef`;
      await api.db('operations').where({ id: vm.operation_id }).update({ lease_owner: longest });
      await api.db('operations').where({ id: vm.operation_id }).update({ lease_owner: null });
    } finally {
      await worker.stop();
      await api.close();
    }
  });
});
