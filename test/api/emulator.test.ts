import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { cliPath, startUp } from '../support/process.js';
import { client, uniq, type Client } from '../support/http.js';
import { STACK, startTestApi, type TestApi } from '../support/stack.js';
import { settle, sleep, waitFor } from '../support/wait.js';
import { startWorkerRuntime, type WorkerRuntime } from '../../worker/runtime.js';
import { testLogger } from '../support/stack.js';

// Emulator control (SPEC §11): the simulated clock, reset, state export/import and snapshots,
// chaos rules and --init, on whichever stack the run uses.

const run = promisify(execFile);

async function makeEnv(http: Client) {
  const r = await http.post('/api/v1/environments', { name: uniq('env'), cidr: '10.0.0.0/24' });
  expect(r.status, r.text).to.equal(201);
  return r.body as { id: string; name: string };
}

async function makeVm(http: Client, envId: string, tags: Record<string, string> = {}) {
  const r = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12', tags });
  expect(r.status, r.text).to.equal(202);
  return r.body as { id: string; operation_id: string };
}

/** Events of some operations from the log, in sequence order. */
async function opEvents(api: TestApi, opIds: string[]) {
  return (await api.db('events').whereIn('operation_id', opIds).orderBy('seq').select('seq', 'type', 'operation_id', 'data')) as { seq: number; type: string; operation_id: string; data: string }[];
}

const running = async (http: Client, opId: string) =>
  waitFor(`operation ${opId} running`, async () => ((await http.get(`/api/v1/operations/${opId}`)).body.status === 'running' ? true : undefined));

describe('emulator control: the simulated clock', function () {
  this.timeout(60_000);
  let api: TestApi;
  let http: Client;
  let second: WorkerRuntime | undefined;

  before(async () => {
    // Realistic pace: nothing finishes by itself during a test; only the clock moves things.
    api = await startTestApi({ timeScale: 1, failureRate: 0 });
    http = client(api.baseUrl);
    // Several workers share the work on the distributed stack: order must still hold.
    if (STACK === 'distributed') second = await startWorkerRuntime({ db: api.db, bus: api.bus, queue: api.queue, logger: testLogger(), leaseMs: 5000, sole: false });
  });
  after(async () => {
    await http.post('/api/v1/admin/clock/resume');
    await second?.stop();
    await api.close();
  });

  it('answers now, time_scale and paused, and runs at 1 / time_scale', async () => {
    const a = await http.get('/api/v1/admin/clock');
    expect(a.status).to.equal(200);
    expect(a.body).to.have.keys('now', 'time_scale', 'paused');
    expect(a.body.time_scale).to.equal(1);
    await sleep(50);
    const b = await http.get('/api/v1/admin/clock');
    expect(Date.parse(b.body.now)).to.be.greaterThan(Date.parse(a.body.now));
  });

  it('advancing finishes every operation due in between, in order, with progress and events', async () => {
    const env = await makeEnv(http);
    const vms: { id: string; operation_id: string }[] = [];
    for (const d of ['300', '100', '200', '7200']) vms.push(await makeVm(http, env.id, { 'mockcloud:duration': d }));
    for (const vm of vms) await running(http, vm.operation_id);
    const r = await http.post('/api/v1/admin/clock/advance', { seconds: 3600 });
    expect(r.status, r.text).to.equal(200);
    const ops = await Promise.all(vms.map(async (v) => (await http.get(`/api/v1/operations/${v.operation_id}`)).body));
    expect(ops.map((o) => o.status)).to.deep.equal(['succeeded', 'succeeded', 'succeeded', 'running']);
    expect((await http.get(`/api/v1/vms/${vms[0]!.id}`)).body.status).to.equal('running');
    const events = await opEvents(api, vms.map((v) => v.operation_id));
    const finished = events.filter((e) => e.type === 'operation.succeeded').map((e) => e.operation_id);
    // 100 s, 200 s, 300 s: the order simulated time reached them, whichever worker held them.
    expect(finished).to.deep.equal([vms[1]!.operation_id, vms[2]!.operation_id, vms[0]!.operation_id]);
    // Each told its phases before it finished.
    const first = events.filter((e) => e.operation_id === vms[1]!.operation_id && e.type.startsWith('operation.'));
    expect(first.filter((e) => e.type === 'operation.progress').length).to.be.greaterThanOrEqual(4);
    expect(first.at(-1)!.type).to.equal('operation.succeeded');
    const progress = first.map((e) => (JSON.parse(e.data) as { progress: number }).progress);
    expect(progress).to.deep.equal([...progress].sort((a, b) => a - b));
    // The long one moved on by the hour it was given (half of 7200 s).
    const long = (await http.get(`/api/v1/operations/${vms[3]!.operation_id}`)).body;
    await waitFor('progress of the long operation', async () => ((await http.get(`/api/v1/operations/${vms[3]!.operation_id}`)).body.progress >= 49 ? true : undefined));
    expect(long.status).to.equal('running');
    await http.post('/api/v1/admin/clock/advance', { seconds: 3600 });
    expect((await http.get(`/api/v1/operations/${vms[3]!.operation_id}`)).body.status).to.equal('succeeded');
  });

  it('pause stops progress and resume continues it', async () => {
    await http.patch('/api/v1/simulation', { time_scale: 0.01 });
    try {
      const env = await makeEnv(http);
      const paused = await http.post('/api/v1/admin/clock/pause');
      expect(paused.body.paused).to.equal(true);
      const vm = await makeVm(http, env.id, { 'mockcloud:duration': '20' }); // 0.2 s of wall time at this pace
      const at = (await http.get('/api/v1/admin/clock')).body.now;
      await sleep(800);
      const op = (await http.get(`/api/v1/operations/${vm.operation_id}`)).body;
      expect(op.done).to.equal(false);
      expect(op.progress).to.equal(0);
      expect((await http.get('/api/v1/admin/clock')).body.now).to.equal(at);
      const resumed = await http.post('/api/v1/admin/clock/resume');
      expect(resumed.body.paused).to.equal(false);
      expect((await settle(http, vm.operation_id)).status).to.equal('succeeded');
    } finally {
      await http.post('/api/v1/admin/clock/resume');
      await http.patch('/api/v1/simulation', { time_scale: 1 });
    }
  });

  it('refuses bad input with problem+json', async () => {
    for (const body of [{}, { seconds: -1 }, { seconds: 'soon' }, { seconds: 1, extra: true }]) {
      const r = await http.post('/api/v1/admin/clock/advance', body);
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.headers.get('content-type')).to.match(/problem\+json/);
    }
  });
});

describe('emulator control: reset', function () {
  this.timeout(60_000);
  let api: TestApi;
  let http: Client;

  before(async () => {
    api = await startTestApi({ timeScale: 1, failureRate: 0 });
    http = client(api.baseUrl);
  });
  after(() => api.close());

  it('cancels operations in flight with events, deletes the scope, and logs a reset event', async () => {
    const keep = await makeEnv(http);
    const env = await makeEnv(http);
    const sg = (await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env.id })).body;
    const vm = await makeVm(http, env.id, { 'mockcloud:duration': '3600' });
    const vol = (await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: env.id, size_gb: 1, tags: { k: 'v' } })).body;
    await running(http, vm.operation_id);
    const other = await makeVm(http, keep.id, { 'mockcloud:duration': '3600' });

    const r = await http.post('/api/v1/admin/reset', { environment_id: env.id });
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.include({ environments: 1, security_groups: 1, vms: 1, volumes: 1, cancelled: 2 });
    for (const p of [`/api/v1/environments/${env.id}`, `/api/v1/security-groups/${sg.id}`, `/api/v1/vms/${vm.id}`, `/api/v1/volumes/${vol.id}`, `/api/v1/operations/${vm.operation_id}`]) {
      expect((await http.get(p)).status, p).to.equal(404);
    }
    expect(await api.db('resource_tags').where({ resource_id: vol.id }).first()).to.equal(undefined);
    const cancelled = await opEvents(api, [vm.operation_id]);
    const last = JSON.parse(cancelled.at(-1)!.data);
    expect(cancelled.at(-1)!.type).to.equal('operation.failed');
    expect(last.error.code).to.equal('cancelled');
    const reset = await api.db('events').where({ type: 'emulator.reset' }).orderBy('seq', 'desc').first();
    expect(reset.seq).to.be.greaterThan(cancelled.at(-1)!.seq);
    // The other environment is untouched, its operation still in flight.
    expect((await http.get(`/api/v1/environments/${keep.id}`)).status).to.equal(200);
    expect((await http.get(`/api/v1/operations/${other.operation_id}`)).body.status).to.be.oneOf(['pending', 'running']);

    const all = await http.post('/api/v1/admin/reset', {});
    expect(all.status).to.equal(200);
    expect((await http.get('/api/v1/environments')).body.items).to.deep.equal([]);
    expect((await http.get('/api/v1/vms')).body.items).to.deep.equal([]);
    // The engine that held the cancelled operations lets them go.
    await waitFor('engine to drop cancelled work', async () => (api.worker!.engine.inFlight === 0 ? true : (await http.post('/api/v1/admin/clock/advance', { seconds: 7200 }), undefined)));
  });

  it('refuses an unknown scope and bad input with problem+json', async () => {
    expect((await http.post('/api/v1/admin/reset', { environment_id: 'env-nope' })).status).to.equal(404);
    expect((await http.post('/api/v1/admin/reset', { project_id: 'nope' })).status).to.equal(404);
    const bad = await http.post('/api/v1/admin/reset', { everything: true });
    expect(bad.status).to.equal(400);
    expect(bad.headers.get('content-type')).to.match(/problem\+json/);
  });
});

describe('emulator control: state export/import and snapshots', function () {
  this.timeout(60_000);
  let api: TestApi;
  let http: Client;

  before(async () => {
    api = await startTestApi({ timeScale: 1, failureRate: 0 });
    http = client(api.baseUrl);
    await http.post('/api/v1/admin/reset', {});
  });
  after(() => api.close());

  const snapshot = async () => ({
    environments: (await http.get('/api/v1/environments')).body.items,
    sgs: (await http.get('/api/v1/security-groups')).body.items,
    vms: (await http.get('/api/v1/vms')).body.items,
    volumes: (await http.get('/api/v1/volumes')).body.items,
  });

  it('export → reset → import gives back the same resources, IDs, tags and plans, and work in flight completes', async () => {
    const env = await makeEnv(http);
    const sg = (await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env.id, rules: [{ direction: 'ingress', protocol: 'tcp', port_from: 22, port_to: 22, cidr: '0.0.0.0/0' }] })).body;
    const done = await makeVm(http, env.id, { 'mockcloud:duration': '10', team: 'a' });
    await running(http, done.operation_id);
    await http.post('/api/v1/admin/clock/advance', { seconds: 20 });
    const inflight = (await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: env.id, size: 'small', image: 'debian-12', security_group_ids: [sg.id], tags: { 'mockcloud:duration': '600' } })).body;
    await running(http, inflight.operation_id);
    const before = await snapshot();
    const plan = (await api.db('operations').where({ id: inflight.operation_id }).first()).plan;

    const exported = await http.get('/api/v1/admin/state');
    expect(exported.status).to.equal(200);
    expect(exported.body.schema_version).to.equal(2);
    expect(exported.body.tables.operations.map((o: { id: string }) => o.id)).to.deep.equal([inflight.operation_id]);

    await http.post('/api/v1/admin/reset', {});
    expect((await http.get('/api/v1/vms')).body.items).to.deep.equal([]);
    const imported = await http.post('/api/v1/admin/state?strategy=replace&dry_run=false', exported.body);
    expect(imported.status, imported.text).to.equal(200);
    const after = await snapshot();
    const stable = (x: typeof before) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'progress' || k === 'updated_at' ? undefined : v)));
    expect(stable(after)).to.deep.equal(stable(before));
    expect((await api.db('operations').where({ id: inflight.operation_id }).first()).plan).to.equal(plan);

    await running(http, inflight.operation_id);
    await http.post('/api/v1/admin/clock/advance', { seconds: 600 });
    expect((await http.get(`/api/v1/operations/${inflight.operation_id}`)).body.status).to.equal('succeeded');
    expect((await http.get(`/api/v1/vms/${inflight.id}`)).body.status).to.equal('running');
  });

  it('a merge dry run counts what would be added and changed, and changes nothing', async () => {
    await http.post('/api/v1/admin/reset', {});
    const env = await makeEnv(http);
    const vm = await makeVm(http, env.id, { 'mockcloud:duration': '1' });
    await running(http, vm.operation_id);
    await http.post('/api/v1/admin/clock/advance', { seconds: 5 });
    const doc = (await http.get('/api/v1/admin/state')).body;
    const vmRow = doc.tables.vms.find((r: { id: string }) => r.id === vm.id);
    vmRow.tags = JSON.stringify({ changed: 'yes' });
    doc.tables.environments.push({ ...doc.tables.environments[0], id: 'env-000000000000added', name: uniq('added') });
    const extra = await makeEnv(http); // exists now, not in the document
    const merge = await http.post('/api/v1/admin/state?strategy=merge&dry_run=true', doc);
    expect(merge.status, merge.text).to.equal(200);
    expect(merge.body).to.include({ strategy: 'merge', dry_run: true, added: 1, changed: 1, removed: 0 });
    expect(merge.body.tables.environments).to.deep.equal({ added: 1, changed: 0, removed: 0 });
    expect(merge.body.tables.vms).to.deep.equal({ added: 0, changed: 1, removed: 0 });
    const replace = await http.post('/api/v1/admin/state?strategy=replace&dry_run=true', doc);
    expect(replace.body).to.include({ added: 1, changed: 1, removed: 1 });
    expect((await http.get('/api/v1/environments/env-000000000000added')).status).to.equal(404);
    expect((await http.get(`/api/v1/environments/${extra.id}`)).status).to.equal(200);
    expect((await http.get(`/api/v1/vms/${vm.id}`)).body.tags).to.deep.equal({ 'mockcloud:duration': '1' });
  });

  it('migrates a schema version 1 document and refuses an unknown version', async () => {
    await http.post('/api/v1/admin/reset', {});
    const env = await makeEnv(http);
    const vm = await makeVm(http, env.id, { 'mockcloud:duration': '600' });
    await running(http, vm.operation_id);
    const doc = (await http.get('/api/v1/admin/state')).body;
    const plan = JSON.parse(doc.tables.operations[0].plan);
    // Version 1: no clock, plan durations already multiplied by time_scale.
    const v1 = { schema_version: 1, exported_at: doc.exported_at, simulation: { ...doc.simulation, time_scale: 0.5 }, tables: doc.tables };
    v1.tables.operations[0].plan = JSON.stringify({ ...plan, duration_ms: plan.duration_ms * 0.5, time_scale: undefined });
    const r = await http.post('/api/v1/admin/state?strategy=replace', v1);
    expect(r.status, r.text).to.equal(200);
    expect(r.body.schema_version).to.equal(1);
    expect(JSON.parse((await api.db('operations').where({ id: vm.operation_id }).first()).plan).duration_ms).to.equal(600_000);
    await http.patch('/api/v1/simulation', { time_scale: 1 });
    for (const version of [99, 0, 'two']) {
      const bad = await http.post('/api/v1/admin/state', { ...doc, schema_version: version });
      expect(bad.status, String(version)).to.be.oneOf([400, 422]);
      expect(bad.headers.get('content-type')).to.match(/problem\+json/);
    }
    const unknown = await http.post('/api/v1/admin/state', { ...doc, schema_version: 99 });
    expect(unknown.status).to.equal(422);
    expect(unknown.body.detail).to.match(/schema_version 99 is not supported/);
    expect((await http.post('/api/v1/admin/state', { ...doc, tables: { nonsense: [] } })).status).to.equal(422);
    expect((await http.post('/api/v1/admin/state?strategy=sideways', doc)).status).to.equal(400);
  });

  it('saves, lists, restores and deletes named snapshots', async () => {
    await http.post('/api/v1/admin/reset', {});
    const env = await makeEnv(http);
    const name = uniq('snap');
    const saved = await http.post('/api/v1/admin/snapshots', { name });
    expect(saved.status, saved.text).to.equal(201);
    expect(saved.body).to.include({ name, resources: 1 });
    expect((await http.post('/api/v1/admin/snapshots', { name })).status).to.equal(409);
    expect((await http.get('/api/v1/admin/snapshots')).body.items.map((s: { name: string }) => s.name)).to.include(name);
    await http.post('/api/v1/admin/reset', {});
    await makeEnv(http);
    const restored = await http.post(`/api/v1/admin/snapshots/${name}/restore`);
    expect(restored.status, restored.text).to.equal(200);
    expect(restored.body).to.include({ added: 1, removed: 1 });
    expect((await http.get('/api/v1/environments')).body.items.map((e: { id: string }) => e.id)).to.deep.equal([env.id]);
    expect((await http.del(`/api/v1/admin/snapshots/${name}`)).status).to.equal(204);
    expect((await http.del(`/api/v1/admin/snapshots/${name}`)).status).to.equal(404);
    expect((await http.post(`/api/v1/admin/snapshots/${name}/restore`)).status).to.equal(404);
    expect((await http.post('/api/v1/admin/snapshots', { name: '../etc' })).status).to.equal(400);
  });
});

describe('emulator control: chaos rules', function () {
  this.timeout(60_000);
  let api: TestApi;
  let http: Client;

  before(async () => {
    api = await startTestApi({ timeScale: 0.01, failureRate: 0 });
    http = client(api.baseUrl);
  });
  afterEach(() => http.del('/api/v1/admin/chaos/rules'));
  after(() => api.close());

  it('times: 2 gives exactly two faults, before any side effect, then success', async () => {
    const rule = await http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'createEnvironment' }, effect: { status: 503, code: 'unavailable', retry_after_s: 3 }, times: 2 });
    expect(rule.status, rule.text).to.equal(201);
    const name = uniq('env');
    for (let i = 0; i < 2; i++) {
      const r = await http.post('/api/v1/environments', { name });
      expect(r.status).to.equal(503);
      expect(r.body.code).to.equal('unavailable');
      expect(r.headers.get('retry-after')).to.equal('3');
      expect(r.headers.get('content-type')).to.match(/problem\+json/);
    }
    expect((await http.get(`/api/v1/environments?name=${name}`)).body.items).to.deep.equal([]);
    expect((await http.post('/api/v1/environments', { name })).status).to.equal(201);
    const listed = (await http.get('/api/v1/admin/chaos/rules')).body.items[0];
    expect(listed).to.include({ hits: 2, matched: 3, times: 2 });
  });

  it('a faulted request retried with the same Idempotency-Key runs for real, not replayed', async () => {
    for (const status of [409, 429]) {
      const effect = status === 429 ? { status, code: 'rate_limited', retry_after_s: 1 } : { status, code: 'invalid_state' };
      await http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'createEnvironment' }, effect, times: 1 });
      const name = uniq('env');
      const key = `chaos-retry-${name}`;
      const first = await http.post('/api/v1/environments', { name }, { headers: { 'idempotency-key': key } });
      expect(first.status).to.equal(status);
      const retry = await http.post('/api/v1/environments', { name }, { headers: { 'idempotency-key': key } });
      expect(retry.status, retry.text).to.equal(201);
      expect(retry.headers.get('idempotent-replayed')).to.equal(null);
      await http.del('/api/v1/admin/chaos/rules');
    }
  });

  it('probability with a seed makes the same decisions every time', async () => {
    const pattern = async () => {
      const rule = (await http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'getSimulation' }, effect: { status: 500 }, probability: 0.5, seed: 42 })).body;
      const seen: number[] = [];
      for (let i = 0; i < 16; i++) seen.push((await http.get('/api/v1/simulation')).status);
      await http.del(`/api/v1/admin/chaos/rules/${rule.id}`);
      return seen;
    };
    const a = await pattern();
    const b = await pattern();
    expect(a).to.deep.equal(b);
    expect(a).to.include(500).and.to.include(200);
  });

  it('draws latency jitter from the seed: a re-created rule delays the same in every run', async () => {
    const req = { operationId: 'listImages', method: 'GET', resourceType: null, projectId: 'default', environmentId: null };
    const delays = async () => {
      const rule = (await http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'listImages' }, effect: { latency_ms: 1, jitter_ms: 1000 }, seed: 7 })).body;
      const seen: number[] = [];
      for (let i = 0; i < 8; i++) seen.push((await api.services.chaos.decide(req))!.delayMs);
      await http.del(`/api/v1/admin/chaos/rules/${rule.id}`);
      return seen;
    };
    const a = await delays();
    expect(await delays()).to.deep.equal(a);
    expect(new Set(a).size, String(a)).to.be.above(4);
    for (const d of a) expect(d).to.be.within(1, 1001);
  });

  it('never holds a request on the database to refresh the rules: the stale list is served while one shared read runs', async () => {
    await http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'getSimulation' }, effect: { status: 503 } });
    expect((await http.get('/api/v1/sizes')).status).to.equal(200); // the rules are cached now
    const chaos = api.services.chaos as unknown as { list(): Promise<unknown>; invalidate(): void };
    const list = chaos.list;
    let reads = 0;
    chaos.list = () => {
      reads++;
      return new Promise(() => undefined); // a database that does not answer
    };
    try {
      await sleep(1100); // past the cache's second
      const replies = await Promise.all([1, 2, 3, 4, 5].map(() => http.get('/api/v1/sizes')));
      expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
      expect((await http.get('/api/v1/simulation')).status, 'the cached rule still applies').to.equal(503);
      expect(reads).to.equal(1);
    } finally {
      chaos.list = list;
      chaos.invalidate();
      await http.del('/api/v1/admin/chaos/rules');
    }
  });

  it('adds latency to matching requests', async () => {
    await http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'listSizes' }, effect: { latency_ms: 300, jitter_ms: 50 } });
    const started = performance.now();
    expect((await http.get('/api/v1/sizes')).status).to.equal(200);
    expect(performance.now() - started).to.be.at.least(300);
  });

  it('fail_operation makes the next VM create fail at the stated progress', async () => {
    await http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'createVm' }, effect: { fail_operation: { code: 'chaos_injected', at_progress: 40 } }, times: 1 });
    const env = await makeEnv(http);
    const failed = await settle(http, (await makeVm(http, env.id)).operation_id);
    expect(failed).to.deep.include({ status: 'failed', progress: 40 });
    expect(failed.error.code).to.equal('chaos_injected');
    expect((await settle(http, (await makeVm(http, env.id)).operation_id)).status).to.equal('succeeded');
  });

  it('matches by method, resource type and environment', async () => {
    const env = await makeEnv(http);
    const other = await makeEnv(http);
    await http.post('/api/v1/admin/chaos/rules', { match: { method: 'POST', resource_type: 'security_group', environment_id: env.id }, effect: { status: 429 } });
    const hit = await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env.id });
    expect(hit.status).to.equal(429);
    expect(hit.headers.get('retry-after')).to.equal('1');
    expect((await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: other.id })).status).to.equal(201);
    expect((await http.get('/api/v1/security-groups')).status).to.equal(200);
  });

  it('refuses unknown operationIds, mixed effects and bad input with problem+json', async () => {
    const cases: [unknown, number][] = [
      [{ match: { operation_id: 'launchRocket' }, effect: { status: 503 } }, 422],
      [{ match: { operation_id: 'listSizes' }, effect: { status: 409 } }, 422],
      [{ effect: { status: 503, latency_ms: 10 } }, 422],
      [{ effect: {} }, 422],
      [{ effect: { status: 503, code: 'not_found' } }, 422],
      [{ effect: { status: 503 }, times: 1, probability: 0.5 }, 422],
      [{ match: { operation_id: 'listSizes' }, effect: { fail_operation: { code: 'x', at_progress: 10 } } }, 422],
      [{ effect: { status: 200 } }, 400],
      [{ effect: { latency_ms: -1 } }, 400],
      [{ match: { colour: 'red' }, effect: { status: 503 } }, 400],
      [{ effect: { fail_operation: { code: 'x', at_progress: 101 } } }, 400],
    ];
    for (const [body, status] of cases) {
      const r = await http.post('/api/v1/admin/chaos/rules', body);
      expect(r.status, JSON.stringify(body)).to.equal(status);
      expect(r.headers.get('content-type')).to.match(/problem\+json/);
    }
    expect((await http.del('/api/v1/admin/chaos/rules/chaos-nope')).status).to.equal(404);
    expect((await http.get('/api/v1/admin/chaos/rules')).body.items).to.deep.equal([]);
  });
});

describe('emulator control: the acceptance script', function () {
  this.timeout(90_000);
  let api: TestApi;
  let http: Client;

  before(async () => {
    api = await startTestApi({ timeScale: 1, failureRate: 0 });
    http = client(api.baseUrl);
  });
  afterEach(() => http.del('/api/v1/admin/chaos/rules'));
  after(() => api.close());

  /** A baseline with one environment, and a VM create already in flight that takes 30 simulated minutes. */
  async function baseline(name: string) {
    await http.post('/api/v1/admin/reset', {});
    const env = await makeEnv(http);
    const vm = await makeVm(http, env.id, { 'mockcloud:duration': '1800' });
    await running(http, vm.operation_id);
    await http.del(`/api/v1/admin/snapshots/${name}`);
    expect((await http.post('/api/v1/admin/snapshots', { name })).status).to.equal(201);
    await makeEnv(http); // made after the snapshot: the restore removes it
    return { env, vm };
  }

  async function check(env: { id: string }, vm: { id: string }) {
    expect((await http.get('/api/v1/environments')).body.items.map((e: { id: string }) => e.id)).to.deep.equal([env.id]);
    expect((await http.get(`/api/v1/vms/${vm.id}`)).body.status).to.equal('running');
    const next = await makeVm(http, env.id, { 'mockcloud:duration': '60' });
    await running(http, next.operation_id);
    await http.post('/api/v1/admin/clock/advance', { seconds: 120 });
    const op = (await http.get(`/api/v1/operations/${next.operation_id}`)).body;
    expect(op.status).to.equal('failed');
    expect(op.error.code).to.equal('provisioning_failed');
  }

  it('as four HTTP calls', async () => {
    const { env, vm } = await baseline('baseline');
    expect((await http.post('/api/v1/admin/reset', {})).status).to.equal(200);
    expect((await http.post('/api/v1/admin/snapshots/baseline/restore')).status).to.equal(200);
    expect((await http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'createVm' }, effect: { fail_operation: { code: 'provisioning_failed', at_progress: 50 } }, times: 1 })).status).to.equal(201);
    expect((await http.post('/api/v1/admin/clock/advance', { seconds: 3600 })).status).to.equal(200);
    await check(env, vm);
  });

  it('as four CLI lines', async () => {
    const { env, vm } = await baseline('baseline-cli');
    const cli = (args: string) => run(process.execPath, [cliPath(), ...args.split(' '), '--endpoint', api.baseUrl], { env: { ...process.env, CI: 'true' } });
    await cli('reset');
    await cli('state restore baseline-cli');
    await cli('chaos add --op createVm --fail-operation provisioning_failed@50 --times 1');
    const advanced = await cli('clock advance 1h --output json');
    expect(JSON.parse(advanced.stdout)).to.have.keys('now', 'time_scale', 'paused');
    await check(env, vm);
  });
});

describe('emulator control: --init', function () {
  this.timeout(60_000);

  it('applies a seed YAML at start-up and reports it at GET /admin/init', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mockcloud-init-'));
    const file = path.join(dir, 'seed.yaml');
    fs.writeFileSync(file, `environments:
  - name: prod
    cidr: 10.1.0.0/24
    tags: {team: infra}
    security_groups:
      - name: web
        rules: [{direction: ingress, protocol: tcp, port_from: 443, port_to: 443, cidr: 0.0.0.0/0}]
    vms:
      - {name: web-1, size: medium, image: debian-12, security_groups: [web], status: running}
      - {name: web-2, status: stopped}
    volumes:
      - {name: data, size_gb: 20, type: ssd, attached_to: web-1}
      - {name: spare}
`);
    const up = await startUp(['--memory', '--init', file]);
    try {
      const http = client(up.url);
      const vms = (await http.get('/api/v1/vms')).body.items;
      expect(vms.map((v: { name: string; status: string }) => `${v.name}:${v.status}`).sort()).to.deep.equal(['web-1:running', 'web-2:stopped']);
      const web1 = vms.find((v: { name: string }) => v.name === 'web-1');
      expect(web1.private_ip).to.match(/^10\.1\.0\.\d+$/);
      const vols = (await http.get('/api/v1/volumes')).body.items;
      const data = vols.find((v: { name: string }) => v.name === 'data');
      expect(data).to.deep.include({ status: 'in-use', attachment: { vm_id: web1.id, device: '/dev/vdb' } });
      expect(web1.attached_volume_ids).to.deep.equal([data.id]);
      expect((await http.get('/api/v1/environments?tags[team]=infra')).body.items).to.have.length(1);
      const init = (await http.get('/api/v1/admin/init')).body;
      expect(init).to.include({ applied: true, file, format: 'seed' });
      expect(init.summary.added).to.equal(7);
      // The seeded resources behave like any other.
      const stop = await http.post(`/api/v1/vms/${web1.id}/stop`);
      expect(stop.status).to.equal(202);
    } finally {
      await up.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops start-up with one line when the init file is bad', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mockcloud-init-'));
    const file = path.join(dir, 'seed.yaml');
    fs.writeFileSync(file, 'environments:\n  - name: x\n    cidr: 10.0.0.1/16\n');
    try {
      const r = await run(process.execPath, [cliPath(), 'up', '--memory', '--port', '0', '--init', file]).then(() => undefined, (e: { code: number; stderr: string }) => e);
      expect(r?.code).to.not.equal(0);
      expect(r?.stderr).to.match(/init file .* not applied: .*host bits set/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** An embedded (SQLite, in-process) API next to the distributed one of this run. */
async function startEmbeddedApi(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const { openDb, migrateLatest } = await import('../../core/db.js');
  const { InProcessBus } = await import('../../core/events/bus.js');
  const { InProcessQueue } = await import('../../core/queue/queue.js');
  const { createServices } = await import('../../server/services.js');
  const { createApp } = await import('../../server/app.js');
  const db = openDb({ sqliteFile: ':memory:' });
  await migrateLatest(db);
  const bus = new InProcessBus();
  const queue = new InProcessQueue();
  const services = await createServices({ db, bus, dispatcher: queue, simulation: { time_scale: 1, seed: null, failure_rate: 0, operations: {} } });
  const worker = await startWorkerRuntime({ db, bus, queue, logger: testLogger(), leaseMs: 5000, sole: true });
  const server = createApp({ services, logger: testLogger(), validateResponses: true }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await worker.stop();
      await queue.close();
      await bus.close();
      await db.destroy();
    },
  };
}

// Only the distributed run has both stores at hand.
if (STACK === 'distributed') {
  describe('emulator control: state between the two stores', function () {
    this.timeout(90_000);

    it('exports from embedded, imports into distributed and back, with work in flight finishing', async () => {
      const embedded = await startEmbeddedApi();
      const api = await startTestApi({ timeScale: 1, failureRate: 0 });
      try {
        const e = client(embedded.baseUrl);
        const d = client(api.baseUrl);
        const env = await makeEnv(e);
        const sg = (await e.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env.id, rules: [{ direction: 'egress', protocol: 'all', cidr: '0.0.0.0/0' }] })).body;
        const vm = (await e.post('/api/v1/vms', { name: uniq('vm'), environment_id: env.id, size: 'large', image: 'rocky-9', security_group_ids: [sg.id], tags: { 'mockcloud:duration': '900', owner: 'me' } })).body;
        const vol = (await e.post('/api/v1/volumes', { name: uniq('vol'), environment_id: env.id, size_gb: 3, type: 'ssd', tags: { 'mockcloud:duration': '600' } })).body;
        await running(e, vm.operation_id);
        const fromEmbedded = (await e.get('/api/v1/admin/state')).body;

        await d.post('/api/v1/admin/reset', {});
        expect((await d.post('/api/v1/admin/state?strategy=replace', fromEmbedded)).status).to.equal(200);
        const fromDistributed = (await d.get('/api/v1/admin/state')).body;
        // Same rows whichever store wrote them (in-flight started_ms moved with the clock).
        // Projects are identity, kept by each deployment (`default` exists in both already).
        const rows = (doc: typeof fromEmbedded) => JSON.parse(JSON.stringify({ ...doc.tables, projects: undefined }, (k, v) => (['started_ms', 'dispatched_ms', 'lease_owner', 'lease_expires_ms', 'attempts', 'updated_at', 'progress', 'message', 'status', 'started_at'].includes(k) ? undefined : v)));
        expect(rows(fromDistributed)).to.deep.equal(rows(fromEmbedded));
        for (const p of [`/api/v1/vms/${vm.id}`, `/api/v1/volumes/${vol.id}`, `/api/v1/security-groups/${sg.id}`]) expect((await d.get(p)).status, p).to.equal(200);
        await running(d, vm.operation_id);
        await d.post('/api/v1/admin/clock/advance', { seconds: 900 });
        expect((await d.get(`/api/v1/vms/${vm.id}`)).body.status).to.equal('running');

        await e.post('/api/v1/admin/reset', {});
        expect((await e.post('/api/v1/admin/state?strategy=replace', (await d.get('/api/v1/admin/state')).body)).status).to.equal(200);
        const back = (await e.get(`/api/v1/vms/${vm.id}`)).body;
        expect(back).to.deep.include({ status: 'running', size: 'large', image: 'rocky-9', security_group_ids: [sg.id], tags: { 'mockcloud:duration': '900', owner: 'me' } });
      } finally {
        await api.close();
        await embedded.close();
      }
    });
  });
}
