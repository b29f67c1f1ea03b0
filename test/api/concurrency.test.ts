import { expect } from 'chai';
import { uniq, type Client } from '../support/http.js';
import { startApiWithEnvironment, STACK, type TestApi } from '../support/stack.js';
import { settle, waitFor } from '../support/wait.js';

// These run on both stacks; on the distributed one the knex pool holds several PostgreSQL
// connections, so the requests below really run side by side.
describe(`api: concurrent writers (${STACK})`, () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  before(async () => {
    ({ api, http, envId } = await startApiWithEnvironment({ timeScale: 0.01, failureRate: 0 }));
  });
  after(() => api.close());

  const statuses = (rs: { status: number }[]) => rs.map((r) => r.status).sort((a, b) => a - b);

  for (const [kind, path, body] of [
    ['environment', '/api/v1/environments', () => ({ name: uniq('env') })],
    ['security group', '/api/v1/security-groups', () => ({ name: uniq('sg'), environment_id: envId })],
    ['VM', '/api/v1/vms', () => ({ name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12' })],
    ['volume', '/api/v1/volumes', () => ({ name: uniq('vol'), environment_id: envId, size_gb: 1 })],
  ] as const) {
    it(`${kind}: 20 concurrent PATCHes with one If-Match — exactly one wins, 19 get 412, no update is lost`, async () => {
      const created = await http.post(path, body());
      if (created.body.operation_id) await settle(http, created.body.operation_id);
      const got = await http.get(`${path}/${created.body.id}`);
      const etag = got.headers.get('etag')!;
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => http.patch(`${path}/${created.body.id}`, { tags: { writer: String(i) } }, { headers: { 'if-match': etag } })),
      );
      expect(statuses(replies)).to.deep.equal([200, ...Array(19).fill(412)]);
      const winner = replies.find((r) => r.status === 200)!;
      const now = await http.get(`${path}/${created.body.id}`);
      expect(now.body.tags).to.deep.equal(winner.body.tags);
      expect(now.headers.get('etag')).to.equal(winner.headers.get('etag'));
    });
  }

  it('project: two owners demoting each other at once — one wins, the project keeps an owner', async () => {
    for (let round = 0; round < 5; round++) {
      const a = (await http.post('/api/v1/users', { name: uniq('usr') })).body.id;
      const b = (await http.post('/api/v1/users', { name: uniq('usr') })).body.id;
      const project = (await http.post('/api/v1/projects', { name: uniq('prj'), owner_id: a })).body.id;
      expect((await http.call('PUT', `/api/v1/projects/${project}/members/${b}`, { body: { role: 'owner' } })).status).to.equal(201);
      const replies = await Promise.all([
        http.call('PUT', `/api/v1/projects/${project}/members/${a}`, { body: { role: 'viewer' } }),
        round % 2 ? http.del(`/api/v1/projects/${project}/members/${b}`) : http.call('PUT', `/api/v1/projects/${project}/members/${b}`, { body: { role: 'editor' } }),
      ]);
      const codes = replies.map((r) => r.status).sort();
      expect(codes[1], replies.map((r) => r.text).join(' | ')).to.equal(409);
      expect([200, 204]).to.include(codes[0]);
      const loser = replies.find((r) => r.status === 409)!;
      expect(loser.body.code).to.equal('invalid_state');
      const owners = (await http.get(`/api/v1/projects/${project}/members`)).body.items.filter((m: { role: string }) => m.role === 'owner');
      expect(owners).to.have.length(1);
      await http.del(`/api/v1/projects/${project}`);
    }
  });

  it('VM: a resize racing a start never resizes a VM that is not stopped', async () => {
    for (let round = 0; round < 5; round++) {
      const vm = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12' });
      await settle(http, vm.body.operation_id);
      await settle(http, (await http.post(`/api/v1/vms/${vm.body.id}/stop`)).body.operation_id);
      const [resize, start] = await Promise.all([
        http.patch(`/api/v1/vms/${vm.body.id}`, { size: 'large' }),
        http.post(`/api/v1/vms/${vm.body.id}/start`),
      ]);
      expect(start.status).to.equal(202);
      expect([200, 409]).to.include(resize.status);
      // The start answered with the VM as it moved to `starting`: had the resize committed after that,
      // it would have resized a VM that was no longer stopped.
      expect(start.body.size).to.equal(resize.status === 200 ? 'large' : 'small');
      await settle(http, start.body.operation_id);
    }
  });

  it('creating VMs while their security group is deleted: 202 or 422, delete 204 or 409, never a 5xx or an orphan', async () => {
    for (let round = 0; round < 5; round++) {
      const sg = (await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: envId })).body;
      const creates = Array.from({ length: 6 }, () =>
        http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12', security_group_ids: [sg.id] }),
      );
      const del = http.del(`/api/v1/security-groups/${sg.id}`);
      const [deleted, ...made] = await Promise.all([del, ...creates]);
      for (const r of made) {
        expect([202, 422], r.text).to.include(r.status);
        if (r.status === 422) expect(r.body.code).to.equal('invalid_value');
      }
      expect([204, 409], deleted.text).to.include(deleted.status);
      const accepted = made.filter((r) => r.status === 202);
      if (deleted.status === 204) expect(accepted).to.have.length(0);
      for (const r of accepted) {
        const vm = await http.get(`/api/v1/vms/${r.body.id}`);
        expect(vm.body.security_group_ids).to.deep.equal([sg.id]);
        await settle(http, r.body.operation_id);
        await settle(http, (await http.del(`/api/v1/vms/${r.body.id}`)).body.operation_id);
      }
      const rows = await api.db('vm_security_groups').where({ security_group_id: sg.id });
      expect(rows).to.have.length(0);
    }
  });

  it('a volume whose VM is deleted while a detach is in flight ends available, whatever the detach does', async () => {
    const sim = await http.patch('/api/v1/simulation', { operations: { 'volume.detach': { failure_rate: 1 } } });
    expect(sim.status).to.equal(200);
    try {
      const vm = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12' });
      await settle(http, vm.body.operation_id);
      const vol = await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: envId, size_gb: 1 });
      await settle(http, vol.body.operation_id);
      await settle(http, (await http.post(`/api/v1/volumes/${vol.body.id}/attach/${vm.body.id}`)).body.operation_id);
      // The detach takes 1 s (100 s scaled by 0.01) and fails; the VM delete finishes first.
      expect((await http.patch(`/api/v1/volumes/${vol.body.id}`, { tags: { 'mockcloud:duration': '100' } })).status).to.equal(200);
      const detach = await http.post(`/api/v1/volumes/${vol.body.id}/detach`);
      expect(detach.status).to.equal(202);
      const del = await http.del(`/api/v1/vms/${vm.body.id}`);
      expect(del.status).to.equal(202);
      await settle(http, del.body.operation_id);
      const op = await settle(http, detach.body.operation_id);
      expect(op.status).to.equal('failed');
      const now = await http.get(`/api/v1/volumes/${vol.body.id}`);
      expect(now.body.status).to.equal('available');
      expect(now.body.attachment).to.equal(null);
    } finally {
      await http.patch('/api/v1/simulation', { operations: { 'volume.detach': null } });
    }
  });

  it('no volume is ever attaching, in-use or detaching without a live VM', async () => {
    await waitFor('settled volumes', async () => {
      const contradicted = await api.db('volumes')
        .whereIn('status', ['in-use', 'attaching', 'detaching'])
        .andWhere((w) => w.whereNull('vm_id').orWhereNotExists(api.db('vms').whereRaw('vms.id = volumes.vm_id')));
      return contradicted.length === 0;
    });
  });
});
