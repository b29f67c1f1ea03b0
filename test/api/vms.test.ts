import { expect } from 'chai';
import { ipToInt, parseCidr, type Cidr } from '../../core/common/cidr.js';
import { client, uniq, type Client } from '../support/http.js';
import { startTestApi, type TestApi } from '../support/stack.js';
import { settle, waitFor } from '../support/wait.js';

describe('api: VMs', () => {
  let api: TestApi;
  let http: Client;
  let env: { id: string; cidr: string };
  before(async () => {
    api = await startTestApi({ timeScale: 0.01, failureRate: 0 });
    http = client(api.baseUrl);
    env = (await http.post('/api/v1/environments', { name: uniq('env'), cidr: '10.20.0.0/16' })).body;
  });
  after(() => api.close());

  const vmBody = (extra: Record<string, unknown> = {}) => ({ name: uniq('vm'), environment_id: env.id, size: 'small', image: 'ubuntu-24.04', ...extra });
  const createRunning = async (extra: Record<string, unknown> = {}) => {
    const r = await http.post('/api/v1/vms/', vmBody(extra));
    expect(r.status).to.equal(202);
    const op = await settle(http, r.body.operation_id);
    expect(op.status).to.equal('succeeded');
    return (await http.get(`/api/v1/vms/${r.body.id}`)).body;
  };

  it('answers 202 with the VM creating, Location, Operation-Location and Retry-After; a GET right after shows creating', async () => {
    const r = await http.post('/api/v1/vms/', vmBody({ tags: { 'mockcloud:duration': '300' } })); // 3 s: a loaded machine must not finish it before the GET
    expect(r.status).to.equal(202);
    expect(r.body.status).to.equal('creating');
    expect(r.body.id).to.match(/^vm-/);
    expect(r.headers.get('location')).to.equal(`/api/v1/vms/${r.body.id}`);
    expect(r.headers.get('operation-location')).to.equal(`/api/v1/operations/${r.body.operation_id}`);
    expect(Number(r.headers.get('retry-after'))).to.be.within(1, 10);
    const got = await http.get(`/api/v1/vms/${r.body.id}`);
    expect(got.body.status).to.equal('creating');
    expect(got.body.private_ip).to.equal(r.body.private_ip);
    const op = await settle(http, r.body.operation_id);
    expect(op).to.include({ status: 'succeeded', done: true, progress: 100, kind: 'vm.create', resource_id: r.body.id });
    const vm = (await http.get(`/api/v1/vms/${r.body.id}`)).body;
    expect(vm).to.include({ status: 'running', progress: 100, error: null });
  });

  it('allocates the address inside the CIDR, never a reserved one', async () => {
    const vm = await createRunning();
    const net = parseCidr(env.cidr) as Cidr;
    const ip = ipToInt(vm.private_ip)!;
    expect(ip).to.be.at.least(net.network + 4);
    expect(ip).to.be.at.most(net.network + net.size - 2);
  });

  it('fails a create forced by the mockcloud:outcome=fail tag, leaving the VM in error with a code', async () => {
    const r = await http.post('/api/v1/vms', vmBody({ tags: { 'mockcloud:outcome': 'fail' } }));
    const op = await settle(http, r.body.operation_id);
    expect(op.status).to.equal('failed');
    expect(op.error.code).to.equal('provisioning_failed');
    const vm = (await http.get(`/api/v1/vms/${r.body.id}`)).body;
    expect(vm.status).to.equal('error');
    expect(vm.error).to.deep.equal(op.error);
    // error is a settled state: it can be deleted
    const d = await http.del(`/api/v1/vms/${r.body.id}`);
    expect(d.status).to.equal(202);
    await settle(http, d.body.operation_id);
    expect((await http.get(`/api/v1/vms/${r.body.id}`)).status).to.equal(404);
  });

  for (const [what, extra, status, code] of [
    ['an image not in the catalogue', { image: 'windows-95' }, 422, 'invalid_value'],
    ['an unknown size', { size: 'huge' }, 400, 'validation_failed'],
    ['a missing image', { image: undefined }, 400, 'validation_failed'],
    ['an environment that does not exist', { environment_id: 'env-0000000000000000' }, 422, 'invalid_value'],
    ['a security group that does not exist', { security_group_ids: ['sg-0000000000000000'] }, 422, 'invalid_value'],
    ['an outcome tag that is neither succeed nor fail', { tags: { 'mockcloud:outcome': 'maybe' } }, 422, 'invalid_value'],
    ['a negative duration tag', { tags: { 'mockcloud:duration': '-1' } }, 422, 'invalid_value'],
    ['an unknown field', { colour: 'red' }, 400, 'validation_failed'],
  ] as const) {
    it(`refuses ${what} with ${status} ${code} and creates nothing`, async () => {
      const body = vmBody(extra as Record<string, unknown>);
      const r = await http.post('/api/v1/vms', body);
      expect(r.status).to.equal(status);
      expect(r.body.code).to.equal(code);
      expect((await http.get(`/api/v1/vms?name=${body.name}`)).body.items).to.have.length(0);
    });
  }

  it('refuses a security group of another environment with 422 environment_mismatch', async () => {
    const other = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
    const sg = (await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: other.id })).body;
    const r = await http.post('/api/v1/vms', vmBody({ security_group_ids: [sg.id] }));
    expect(r.status).to.equal(422);
    expect(r.body.code).to.equal('environment_mismatch');
  });

  it('refuses a duplicate name in the environment with 409', async () => {
    const body = vmBody();
    expect((await http.post('/api/v1/vms', body)).status).to.equal(202);
    const dup = await http.post('/api/v1/vms', body);
    expect(dup.status).to.equal(409);
    expect(dup.body.code).to.equal('already_exists');
  });

  it('keeps security groups in order and refuses to delete a group a VM uses', async () => {
    const a = (await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env.id })).body;
    const b = (await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env.id })).body;
    const vm = await createRunning({ security_group_ids: [b.id, a.id] });
    expect(vm.security_group_ids).to.deep.equal([b.id, a.id]);
    const del = await http.del(`/api/v1/security-groups/${a.id}`);
    expect(del.status).to.equal(409);
    expect(del.body.code).to.equal('dependency_violation');
    expect(del.body.dependents).to.deep.equal([{ id: vm.id, type: 'vm' }]);
  });

  it('walks running → stopping → stopped → starting → running and running → rebooting → running', async () => {
    const vm = await createRunning();
    for (const [action, during, after] of [
      ['stop', 'stopping', 'stopped'],
      ['start', 'starting', 'running'],
      ['reboot', 'rebooting', 'running'],
    ]) {
      const r = await http.post(`/api/v1/vms/${vm.id}/${action}`);
      expect(r.status, action).to.equal(202);
      expect(r.body.status).to.equal(during);
      expect(r.headers.get('operation-location')).to.equal(`/api/v1/operations/${r.body.operation_id}`);
      const op = await settle(http, r.body.operation_id);
      expect(op.kind).to.equal(`vm.${action}`);
      expect((await http.get(`/api/v1/vms/${vm.id}`)).body.status).to.equal(after);
    }
  });

  it('refuses actions in the wrong state with 409 invalid_state and changes nothing', async () => {
    const vm = await createRunning();
    const start = await http.post(`/api/v1/vms/${vm.id}/start`);
    expect(start.status).to.equal(409);
    expect(start.body.code).to.equal('invalid_state');
    const creating = await http.post('/api/v1/vms', vmBody({ tags: { 'mockcloud:duration': '60' } }));
    for (const action of ['stop', 'reboot', 'start']) {
      const r = await http.post(`/api/v1/vms/${creating.body.id}/${action}`);
      expect(r.status, action).to.equal(409);
      expect(r.body.code).to.equal('invalid_state');
    }
    const del = await http.del(`/api/v1/vms/${creating.body.id}`);
    expect(del.status).to.equal(409);
    expect((await http.get(`/api/v1/vms/${creating.body.id}`)).body.status).to.equal('creating');
    expect((await http.get(`/api/v1/vms/${vm.id}`)).body.status).to.equal('running');
  });

  it('answers 404 for actions on a VM that does not exist', async () => {
    const r = await http.post('/api/v1/vms/vm-0000000000000000/stop');
    expect(r.status).to.equal(404);
    expect(r.body.code).to.equal('not_found');
  });

  it('changes size only when stopped, and refuses to change the image', async () => {
    const vm = await createRunning();
    const running = await http.patch(`/api/v1/vms/${vm.id}`, { size: 'large' });
    expect(running.status).to.equal(409);
    expect(running.body.code).to.equal('invalid_state');
    await settle(http, (await http.post(`/api/v1/vms/${vm.id}/stop`)).body.operation_id);
    const ok = await http.patch(`/api/v1/vms/${vm.id}`, { size: 'large', tags: { role: 'db' } });
    expect(ok.status).to.equal(200);
    expect(ok.body).to.include({ size: 'large', status: 'stopped' });
    expect(ok.body.tags).to.deep.equal({ role: 'db' });
    const image = await http.patch(`/api/v1/vms/${vm.id}`, { image: 'debian-12' });
    expect(image.status).to.equal(422);
    expect(image.body.code).to.equal('immutable_field');
    expect((await http.get(`/api/v1/vms/${vm.id}`)).body.image).to.equal('ubuntu-24.04');
  });

  it('deletes idempotently: 202 deleting (the same operation twice), then 404', async () => {
    const vm = await createRunning({ tags: { 'mockcloud:duration': '20' } });
    const a = await http.del(`/api/v1/vms/${vm.id}`);
    expect(a.status).to.equal(202);
    expect(a.body.status).to.equal('deleting');
    const b = await http.del(`/api/v1/vms/${vm.id}/`);
    expect(b.status).to.equal(202);
    expect(b.body.operation_id).to.equal(a.body.operation_id);
    await settle(http, a.body.operation_id);
    expect((await http.get(`/api/v1/vms/${vm.id}`)).status).to.equal(404);
    expect((await http.del(`/api/v1/vms/${vm.id}`)).status).to.equal(404);
  });

  it('refuses to delete the environment while it holds a VM', async () => {
    const e = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
    const r = await http.post('/api/v1/vms', vmBody({ environment_id: e.id }));
    const del = await http.del(`/api/v1/environments/${e.id}`);
    expect(del.status).to.equal(409);
    expect(del.body.dependents).to.deep.equal([{ id: r.body.id, type: 'vm' }]);
  });

  it('fits exactly 11 VMs in a /28 and refuses the 12th with 409 address_space_exhausted', async () => {
    const small = (await http.post('/api/v1/environments', { name: uniq('env'), cidr: '192.168.7.0/28' })).body;
    const ips = new Set<string>();
    for (let i = 0; i < 11; i++) {
      const r = await http.post('/api/v1/vms', vmBody({ environment_id: small.id }));
      expect(r.status, `VM ${i + 1}`).to.equal(202);
      ips.add(r.body.private_ip);
    }
    expect([...ips].sort()).to.deep.equal(Array.from({ length: 11 }, (_, i) => `192.168.7.${i + 4}`).sort());
    const twelfth = await http.post('/api/v1/vms', vmBody({ environment_id: small.id }));
    expect(twelfth.status).to.equal(409);
    expect(twelfth.body.code).to.equal('address_space_exhausted');
  });

  it('still hands out only free addresses after the environment is renamed between creates', async () => {
    const small = (await http.post('/api/v1/environments', { name: uniq('env'), cidr: '192.168.9.0/28' })).body;
    const ips: string[] = [];
    for (let i = 0; i < 11; i++) {
      // The seeded pick is keyed by the environment's name: renaming it mid-way must not reuse an address.
      if (i === 5) expect((await http.patch(`/api/v1/environments/${small.id}`, { name: uniq('renamed') })).status).to.equal(200);
      const r = await http.post('/api/v1/vms', vmBody({ environment_id: small.id }));
      expect(r.status, `VM ${i + 1}`).to.equal(202);
      ips.push(r.body.private_ip);
    }
    expect(new Set(ips).size).to.equal(11);
    const twelfth = await http.post('/api/v1/vms', vmBody({ environment_id: small.id }));
    expect(twelfth.body.code).to.equal('address_space_exhausted');
  });

  it('gives 200 concurrent creates 200 distinct addresses', async function () {
    this.timeout(60_000);
    const e = (await http.post('/api/v1/environments', { name: uniq('env'), cidr: '10.99.0.0/24' })).body;
    const replies = await Promise.all(Array.from({ length: 200 }, () => http.post('/api/v1/vms', vmBody({ environment_id: e.id }))));
    expect(replies.map((r) => r.status)).to.deep.equal(Array(200).fill(202));
    const ips = replies.map((r) => r.body.private_ip);
    expect(new Set(ips).size).to.equal(200);
    const stored = await api.db('vms').where({ environment_id: e.id }).select('private_ip');
    expect(new Set(stored.map((r: { private_ip: string }) => r.private_ip)).size).to.equal(200);
  });

  it('lists VMs filtered by environment, status and tags', async () => {
    const e = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
    const a = await createRunning({ environment_id: e.id, tags: { tier: 'web' } });
    const b = await http.post('/api/v1/vms', vmBody({ environment_id: e.id, tags: { tier: 'db', 'mockcloud:duration': '60' } }));
    const byEnv = await http.get(`/api/v1/vms?environment_id=${e.id}`);
    expect(byEnv.body.items.map((v: { id: string }) => v.id)).to.deep.equal([a.id, b.body.id]);
    const running = await http.get(`/api/v1/vms?environment_id=${e.id}&status=running`);
    expect(running.body.items.map((v: { id: string }) => v.id)).to.deep.equal([a.id]);
    const web = await http.get(`/api/v1/vms?environment_id=${e.id}&tags[tier]=db`);
    expect(web.body.items.map((v: { id: string }) => v.id)).to.deep.equal([b.body.id]);
  });

  it('reports progress that never decreases, in steps of at most 10 %, with phase messages', async () => {
    const r = await http.post('/api/v1/vms', vmBody({ tags: { 'mockcloud:duration': '100' } })); // 1 s at time scale 0.01
    await settle(http, r.body.operation_id);
    const rows = await api.db('events').where({ operation_id: r.body.operation_id }).whereLike('type', 'operation.%').orderBy('seq');
    const ops = rows.map((e: { data: string }) => JSON.parse(e.data));
    const progress = ops.map((o: { progress: number }) => o.progress);
    expect(progress.at(-1)).to.equal(100);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]).to.be.at.least(progress[i - 1]);
      if (i < progress.length - 1) expect(progress[i] - progress[i - 1], `step ${i}`).to.be.at.most(12);
    }
    const messages = new Set(ops.map((o: { message: string }) => o.message));
    expect(messages).to.include('booting');
    expect(ops.at(-1).status).to.equal('succeeded');
    await waitFor('vm running', async () => (await http.get(`/api/v1/vms/${r.body.id}`)).body.status === 'running');
  });
});
