import { expect } from 'chai';
import { uniq, type Client } from '../support/http.js';
import { startApiWithEnvironment, type TestApi } from '../support/stack.js';
import { settle, sleep } from '../support/wait.js';

describe('api: operations, catalogues and simulation', () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  before(async () => {
    ({ api, http, envId } = await startApiWithEnvironment({ timeScale: 0.01, failureRate: 0.1 }));
  });
  after(() => api.close());

  it('never holds a request on the database to refresh the simulation settings past their second', async () => {
    expect((await http.get('/api/v1/simulation')).status).to.equal(200); // cached now
    const sim = api.services.simulation as unknown as { stored(): Promise<unknown> };
    const stored = sim.stored;
    let reads = 0;
    sim.stored = () => {
      reads++;
      return new Promise(() => undefined); // a database that does not answer
    };
    try {
      await sleep(1100);
      const replies = await Promise.all([1, 2, 3].map(() => http.get('/api/v1/simulation')));
      expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200]);
      expect(reads).to.equal(1);
    } finally {
      sim.stored = stored;
      (api.services.simulation as unknown as { cache: { invalidate(): void } }).cache.invalidate();
    }
  });

  it('gets an operation and lists operations by resource and kind', async () => {
    const r = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'medium', image: 'rocky-9', tags: { 'mockcloud:outcome': 'succeed' } });
    const op = await settle(http, r.body.operation_id);
    expect(op).to.include({ id: r.body.operation_id, kind: 'vm.create', resource_type: 'vm', environment_id: envId, done: true });
    expect(op.started_at).to.be.a('string');
    expect(op.finished_at).to.be.a('string');
    const stop = await http.post(`/api/v1/vms/${r.body.id}/stop`);
    await settle(http, stop.body.operation_id);
    const all = await http.get(`/api/v1/operations?resource_id=${r.body.id}`);
    expect(all.body.items.map((o: { kind: string }) => o.kind)).to.deep.equal(['vm.create', 'vm.stop']);
    const stops = await http.get(`/api/v1/operations?resource_id=${r.body.id}&kind=vm.stop`);
    expect(stops.body.items).to.have.length(1);
    const bad = await http.get('/api/v1/operations?kind=vm.explode');
    expect(bad.status).to.equal(400);
    expect((await http.get('/api/v1/operations/op-0000000000000000')).status).to.equal(404);
  });

  it('asks pollers to come back (Retry-After) while an operation runs, and stops once it is done', async () => {
    const r = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12', tags: { 'mockcloud:duration': '100' } });
    const running = await http.get(`/api/v1/operations/${r.body.operation_id}`);
    expect(running.body.done).to.equal(false);
    expect(running.headers.get('retry-after')).to.equal('1');
    expect(running.headers.get('etag')).to.match(/^".+"$/);
    await settle(http, r.body.operation_id);
    const done = await http.get(`/api/v1/operations/${r.body.operation_id}`);
    expect(done.headers.get('retry-after')).to.equal(null);
    expect(done.headers.get('etag')).to.not.equal(running.headers.get('etag'));
  });

  it('serves the size and image catalogues', async () => {
    const sizes = await http.get('/api/v1/sizes');
    expect(sizes.body.items).to.deep.include({ name: 'medium', vcpus: 2, memory_gib: 4 });
    const images = await http.get('/api/v1/images');
    expect(images.body.items.map((i: { name: string }) => i.name)).to.include.members(['ubuntu-24.04', 'debian-12']);
  });

  it('shows the start-up simulation settings with the SPEC defaults per kind', async () => {
    const r = await http.get('/api/v1/simulation');
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ time_scale: 0.01, failure_rate: 0.1, seed: null });
    expect(r.body.operations['vm.create']).to.deep.equal({ min_s: 30, max_s: 60, failure_rate: 0.1 });
    expect(r.body.operations['vm.delete']).to.deep.equal({ min_s: 5, max_s: 15, failure_rate: 0 });
    expect(r.body.operations['volume.attach']).to.deep.equal({ min_s: 2, max_s: 5, failure_rate: 0 });
  });

  it('changes the simulation at run time, and the next operation follows it', async () => {
    const r = await http.patch('/api/v1/simulation', { failure_rate: 1, operations: { 'vm.create': { min_s: 1, max_s: 1 } } });
    expect(r.status).to.equal(200);
    expect(r.body.operations['vm.create']).to.deep.equal({ min_s: 1, max_s: 1, failure_rate: 1 });
    try {
      const vm = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12' });
      const op = await settle(http, vm.body.operation_id);
      expect(op.status).to.equal('failed');
      expect(['provisioning_failed', 'host_capacity', 'image_corrupt']).to.include(op.error.code);
    } finally {
      await http.patch('/api/v1/simulation', { failure_rate: 0.1, operations: { 'vm.create': null } });
    }
    expect((await http.get('/api/v1/simulation')).body.operations['vm.create']).to.deep.equal({ min_s: 30, max_s: 60, failure_rate: 0.1 });
  });

  it('refuses min_s above max_s with 422, an unknown kind or a rate above 1 with 400, and keeps the settings', async () => {
    const before = (await http.get('/api/v1/simulation')).body;
    const range = await http.patch('/api/v1/simulation', { operations: { 'vm.stop': { min_s: 9, max_s: 3 } } });
    expect(range.status).to.equal(422);
    expect(range.body.code).to.equal('invalid_value');
    expect((await http.patch('/api/v1/simulation', { operations: { 'vm.explode': { min_s: 1 } } })).status).to.equal(400);
    expect((await http.patch('/api/v1/simulation', { failure_rate: 1.5 })).status).to.equal(400);
    expect((await http.patch('/api/v1/simulation', { time_scale: -1 })).status).to.equal(400);
    expect((await http.get('/api/v1/simulation')).body).to.deep.equal(before);
  });

  it('answers /health and /ready', async () => {
    const health = (await http.get('/health')).body;
    expect(health.status).to.equal('ok');
    expect(health.version, 'the server version `mockcloud status` shows').to.match(/^\d+\.\d+\.\d+/);
    const ready = await http.get('/ready');
    expect(ready.status).to.equal(200);
    expect(ready.body.checks).to.include({ database: 'ok', migrations: 'ok' });
  });
});
