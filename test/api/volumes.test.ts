import { expect } from 'chai';
import { uniq, type Client } from '../support/http.js';
import { startApiWithEnvironment, type TestApi } from '../support/stack.js';
import { settle } from '../support/wait.js';

describe('api: volumes', () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  before(async () => {
    ({ api, http, envId } = await startApiWithEnvironment({ timeScale: 0.01, failureRate: 0 }));
  });
  after(() => api.close());

  const done = async (r: { status: number; body: { operation_id: string } }) => {
    expect(r.status).to.equal(202);
    return settle(http, r.body.operation_id);
  };
  const volume = async (extra: Record<string, unknown> = {}) => {
    const r = await http.post('/api/v1/volumes/', { name: uniq('vol'), environment_id: envId, size_gb: 10, ...extra });
    await done(r);
    return (await http.get(`/api/v1/volumes/${r.body.id}`)).body;
  };
  const vm = async (environmentId = envId) => {
    const r = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: environmentId, size: 'small', image: 'debian-12' });
    await done(r);
    return (await http.get(`/api/v1/vms/${r.body.id}`)).body;
  };

  it('creates a volume (202 creating → available) with the default type standard', async () => {
    const r = await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: envId, size_gb: 100 });
    expect(r.status).to.equal(202);
    expect(r.body).to.include({ status: 'creating', size_gb: 100, type: 'standard', attachment: null });
    expect(r.headers.get('location')).to.equal(`/api/v1/volumes/${r.body.id}`);
    expect(r.body.id).to.match(/^vol-/);
    await done(r);
    expect((await http.get(`/api/v1/volumes/${r.body.id}`)).body.status).to.equal('available');
  });

  for (const [what, extra] of [
    ['size_gb 0', { size_gb: 0 }],
    ['size_gb 16385', { size_gb: 16385 }],
    ['a fractional size', { size_gb: 1.5 }],
    ['an unknown type', { type: 'nvme' }],
  ] as const) {
    it(`refuses ${what} with 400`, async () => {
      const r = await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: envId, ...{ size_gb: 10 }, ...extra });
      expect(r.status).to.equal(400);
      expect(r.body.code).to.equal('validation_failed');
    });
  }

  it('attaches in device order, shows the attachment on both sides, and detaches', async () => {
    const m = await vm();
    const a = await volume();
    const b = await volume({ type: 'ssd' });
    const ra = await http.post(`/api/v1/volumes/${a.id}/attach/${m.id}`);
    expect(ra.body.status).to.equal('attaching');
    expect(ra.headers.get('operation-location')).to.match(/^\/api\/v1\/operations\/op-/);
    await done(ra);
    await done(await http.post(`/api/v1/volumes/${b.id}/attach/${m.id}`));
    expect((await http.get(`/api/v1/volumes/${a.id}`)).body).to.deep.include({ status: 'in-use', attachment: { vm_id: m.id, device: '/dev/vdb' } });
    expect((await http.get(`/api/v1/volumes/${b.id}`)).body.attachment).to.deep.equal({ vm_id: m.id, device: '/dev/vdc' });
    expect((await http.get(`/api/v1/vms/${m.id}`)).body.attached_volume_ids).to.deep.equal([a.id, b.id]);
    const d = await http.post(`/api/v1/volumes/${a.id}/detach`);
    expect(d.body.status).to.equal('detaching');
    await done(d);
    expect((await http.get(`/api/v1/volumes/${a.id}`)).body).to.deep.include({ status: 'available', attachment: null });
    expect((await http.get(`/api/v1/vms/${m.id}`)).body.attached_volume_ids).to.deep.equal([b.id]);
  });

  it('refuses to delete an in-use volume with 409 volume_in_use', async () => {
    const m = await vm();
    const v = await volume();
    await done(await http.post(`/api/v1/volumes/${v.id}/attach/${m.id}`));
    const r = await http.del(`/api/v1/volumes/${v.id}`);
    expect(r.status).to.equal(409);
    expect(r.body.code).to.equal('volume_in_use');
    expect((await http.get(`/api/v1/volumes/${v.id}`)).body.status).to.equal('in-use');
  });

  it('refuses to attach across environments with 422 environment_mismatch', async () => {
    const otherEnv = (await http.post('/api/v1/environments', { name: uniq('env') })).body.id;
    const m = await vm(otherEnv);
    const v = await volume();
    const r = await http.post(`/api/v1/volumes/${v.id}/attach/${m.id}`);
    expect(r.status).to.equal(422);
    expect(r.body.code).to.equal('environment_mismatch');
    expect((await http.get(`/api/v1/volumes/${v.id}`)).body.status).to.equal('available');
  });

  it('refuses to attach to a VM that is not running, or a volume that is not available, with 409 invalid_state', async () => {
    const m = await vm();
    await done(await http.post(`/api/v1/vms/${m.id}/stop`));
    const v = await volume();
    const stopped = await http.post(`/api/v1/volumes/${v.id}/attach/${m.id}`);
    expect(stopped.status).to.equal(409);
    expect(stopped.body.code).to.equal('invalid_state');
    const running = await vm();
    await done(await http.post(`/api/v1/volumes/${v.id}/attach/${running.id}`));
    const again = await http.post(`/api/v1/volumes/${v.id}/attach/${running.id}`);
    expect(again.status).to.equal(409);
    expect(again.body.code).to.equal('invalid_state');
    const detachAvailable = await http.post(`/api/v1/volumes/${(await volume()).id}/detach`);
    expect(detachAvailable.status).to.equal(409);
  });

  it('answers 404 for an attach to a VM that does not exist', async () => {
    const v = await volume();
    const r = await http.post(`/api/v1/volumes/${v.id}/attach/vm-0000000000000000`);
    expect(r.status).to.equal(404);
  });

  it('accepts exactly one of 50 concurrent attaches of one volume', async function () {
    this.timeout(30_000);
    const vms = await Promise.all([vm(), vm(), vm()]);
    const v = await volume();
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => http.post(`/api/v1/volumes/${v.id}/attach/${vms[i % 3]!.id}`)));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).to.have.length(1);
    expect(statuses.filter((s) => s === 409)).to.have.length(49);
    const winner = replies.find((r) => r.status === 202)!;
    await done(winner);
    const ops = await api.db('operations').where({ resource_id: v.id, kind: 'volume.attach' });
    expect(ops).to.have.length(1);
  });

  it('grows but never shrinks, and refuses to change the type', async () => {
    const v = await volume({ size_gb: 50 });
    const grow = await http.patch(`/api/v1/volumes/${v.id}`, { size_gb: 80 });
    expect(grow.status).to.equal(200);
    expect(grow.body.size_gb).to.equal(80);
    const shrink = await http.patch(`/api/v1/volumes/${v.id}`, { size_gb: 40 });
    expect(shrink.status).to.equal(422);
    expect(shrink.body.code).to.equal('invalid_value');
    const type = await http.patch(`/api/v1/volumes/${v.id}`, { type: 'ssd' });
    expect(type.status).to.equal(422);
    expect(type.body.code).to.equal('immutable_field');
    expect((await http.get(`/api/v1/volumes/${v.id}`)).body).to.include({ size_gb: 80, type: 'standard' });
  });

  it('deleting a VM detaches its volumes: they return to available', async () => {
    const m = await vm();
    const v = await volume();
    await done(await http.post(`/api/v1/volumes/${v.id}/attach/${m.id}`));
    await done(await http.del(`/api/v1/vms/${m.id}`));
    expect((await http.get(`/api/v1/vms/${m.id}`)).status).to.equal(404);
    expect((await http.get(`/api/v1/volumes/${v.id}`)).body).to.deep.include({ status: 'available', attachment: null });
  });

  it('deletes an available volume (202 deleting, then 404) and a failed one too', async () => {
    const v = await volume();
    const r = await http.del(`/api/v1/volumes/${v.id}`);
    expect(r.body.status).to.equal('deleting');
    await done(r);
    expect((await http.get(`/api/v1/volumes/${v.id}`)).status).to.equal(404);
    const failed = await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: envId, size_gb: 1, tags: { 'mockcloud:outcome': 'fail' } });
    const op = await done(failed);
    expect(op.status).to.equal('failed');
    const fv = (await http.get(`/api/v1/volumes/${failed.body.id}`)).body;
    expect(fv.status).to.equal('error');
    expect(fv.error.code).to.be.a('string');
    await done(await http.del(`/api/v1/volumes/${fv.id}`));
    expect((await http.get(`/api/v1/volumes/${fv.id}`)).status).to.equal(404);
  });
});
