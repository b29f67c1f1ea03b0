// What a declarative, whole-document client (Terraform's restapi provider) needs from the API:
// PUT to replace the writable fields (tag removal included), and `Prefer: wait` to get the settled
// outcome of an asynchronous request instead of a 202 — so a delete frees the name before the next
// create of the same name.
import { expect } from 'chai';
import { client, uniq, type Client } from '../support/http.js';
import { startTestApi, type TestApi } from '../support/stack.js';

describe('api: declarative clients (PUT replace, Prefer: wait)', () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  const WAIT = { headers: { prefer: 'wait=30' } };

  before(async () => {
    api = await startTestApi({ timeScale: 0.01, failureRate: 0 });
    http = client(api.baseUrl);
    envId = (await http.post('/api/v1/environments', { name: uniq('decl'), cidr: '10.60.0.0/24' })).body.id;
  });
  after(() => api.close());

  describe('PUT replaces the writable fields with the document', () => {
    it('environments: removes the tags it does not name, keeps the rest; a different cidr is 422 immutable_field', async () => {
      const name = uniq('env');
      const created = (await http.post('/api/v1/environments', { name, cidr: '10.61.0.0/24', tags: { a: '1', b: '2' } })).body;
      const put = await http.call('PUT', `/api/v1/environments/${created.id}`, { body: { name, cidr: '10.61.0.0/24', tags: { a: '1' } } });
      expect(put.status).to.equal(200);
      expect(put.body.tags).to.deep.equal({ a: '1' });
      expect(put.headers.get('etag')).to.be.a('string');
      expect((await http.get(`/api/v1/environments?tags[b]=2&name=${name}`)).body.items, 'the tag index follows').to.deep.equal([]);
      const moved = await http.call('PUT', `/api/v1/environments/${created.id}`, { body: { name, cidr: '10.62.0.0/24' } });
      expect(moved.status).to.equal(422);
      expect(moved.body.code).to.equal('immutable_field');
      const defaulted = await http.call('PUT', `/api/v1/environments/${created.id}`, { body: { name } });
      expect(defaulted.status, 'an absent cidr means the create default, which differs').to.equal(422);
    });

    it('security groups: description and rules become exactly what is sent (absent: empty)', async () => {
      const name = uniq('sg');
      const rules = [{ direction: 'ingress', protocol: 'tcp', port_from: 22, port_to: 22, cidr: '10.0.0.0/8' }];
      const sg = (await http.post('/api/v1/security-groups', { name, environment_id: envId, description: 'ssh', rules, tags: { x: 'y' } })).body;
      const put = await http.call('PUT', `/api/v1/security-groups/${sg.id}`, { body: { name, environment_id: envId } });
      expect(put.status).to.equal(200);
      expect(put.body).to.include({ description: '' });
      expect(put.body.rules).to.deep.equal([]);
      expect(put.body.tags).to.deep.equal({});
    });

    it('VMs: tags and security groups replaced; an image change is 422; a stale If-Match is 412', async () => {
      const name = uniq('vm');
      const body = { name, environment_id: envId, size: 'small', image: 'debian-12', tags: { keep: '1', drop: '2' } };
      const vm = (await http.post('/api/v1/vms', body, WAIT)).body;
      const put = await http.call('PUT', `/api/v1/vms/${vm.id}`, { body: { ...body, tags: { keep: '1', add: '3' } } });
      expect(put.status).to.equal(200);
      expect(put.body.tags).to.deep.equal({ keep: '1', add: '3' });
      expect(put.body.status).to.equal('running');
      const image = await http.call('PUT', `/api/v1/vms/${vm.id}`, { body: { ...body, image: 'ubuntu-24.04' } });
      expect(image.status).to.equal(422);
      expect(image.body.code).to.equal('immutable_field');
      const stale = await http.call('PUT', `/api/v1/vms/${vm.id}`, { body, headers: { 'if-match': '"stale"' } });
      expect(stale.status).to.equal(412);
      const resize = await http.call('PUT', `/api/v1/vms/${vm.id}`, { body: { ...body, size: 'large' } });
      expect(resize.status, 'the PATCH rules hold: resizing needs a stopped VM').to.equal(409);
      expect(resize.body.code).to.equal('invalid_state');
    });

    it('volumes: grows, refuses to shrink, refuses a type change; unknown fields are 400', async () => {
      const name = uniq('vol');
      const vol = (await http.post('/api/v1/volumes', { name, environment_id: envId, size_gb: 10, tags: { t: '1' } }, WAIT)).body;
      const grown = await http.call('PUT', `/api/v1/volumes/${vol.id}`, { body: { name, environment_id: envId, size_gb: 20 } });
      expect(grown.status).to.equal(200);
      expect(grown.body).to.include({ size_gb: 20, type: 'standard' });
      expect(grown.body.tags).to.deep.equal({});
      expect((await http.call('PUT', `/api/v1/volumes/${vol.id}`, { body: { name, environment_id: envId, size_gb: 5 } })).body.code).to.equal('invalid_value');
      expect((await http.call('PUT', `/api/v1/volumes/${vol.id}`, { body: { name, environment_id: envId, size_gb: 20, type: 'ssd' } })).body.code).to.equal('immutable_field');
      const unknown = await http.call('PUT', `/api/v1/volumes/${vol.id}`, { body: { name, environment_id: envId, size_gb: 20, status: 'x' } });
      expect(unknown.status).to.equal(400);
      expect((await http.call('PUT', '/api/v1/volumes/vol-nope', { body: { name, environment_id: envId, size_gb: 20 } })).status).to.equal(404);
    });
  });

  describe('Prefer: wait answers the settled outcome', () => {
    it('a VM create answers 201 running with Preference-Applied; a delete answers 204 and the name is free at once', async () => {
      const name = uniq('waited');
      const body = { name, environment_id: envId, size: 'small', image: 'debian-12' };
      const created = await http.post('/api/v1/vms', body, WAIT);
      expect(created.status).to.equal(201);
      expect(created.body.status).to.equal('running');
      expect(created.headers.get('preference-applied')).to.equal('wait=30');
      expect(created.headers.get('location')).to.equal(`/api/v1/vms/${created.body.id}`);
      expect(created.headers.get('operation-location')).to.match(/^\/api\/v1\/operations\/op-/);

      const deleted = await http.del(`/api/v1/vms/${created.body.id}`, WAIT);
      expect(deleted.status).to.equal(204);
      expect((await http.get(`/api/v1/vms/${created.body.id}`)).status).to.equal(404);
      const again = await http.post('/api/v1/vms', body, WAIT);
      expect(again.status, 'no 409 already_exists: the old VM is gone').to.equal(201);
      await http.del(`/api/v1/vms/${again.body.id}`, WAIT);
    });

    it('a create whose operation fails answers 201 with the VM in error and its error', async () => {
      const r = await http.post('/api/v1/vms', { name: uniq('doomed'), environment_id: envId, size: 'small', image: 'debian-12', tags: { 'mockcloud:outcome': 'fail' } }, WAIT);
      expect(r.status).to.equal(201);
      expect(r.body.status).to.equal('error');
      expect(r.body.error.code).to.equal('provisioning_failed');
    });

    it('actions, attach and detach answer 200 with the settled resource', async () => {
      const vm = (await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12' }, WAIT)).body;
      const stopped = await http.post(`/api/v1/vms/${vm.id}/stop`, undefined, WAIT);
      expect(stopped.status).to.equal(200);
      expect(stopped.body.status).to.equal('stopped');
      expect((await http.post(`/api/v1/vms/${vm.id}/start`, undefined, WAIT)).body.status).to.equal('running');
      const vol = (await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: envId, size_gb: 1 }, WAIT)).body;
      expect(vol.status).to.equal('available');
      const attached = await http.post(`/api/v1/volumes/${vol.id}/attach/${vm.id}`, undefined, WAIT);
      expect(attached.status).to.equal(200);
      expect(attached.body).to.include({ status: 'in-use' });
      const detached = await http.post(`/api/v1/volumes/${vol.id}/detach`, undefined, WAIT);
      expect(detached.body).to.include({ status: 'available', attachment: null });
      expect((await http.del(`/api/v1/volumes/${vol.id}`, WAIT)).status).to.equal(204);
    });

    it('answers the usual 202 when the operation outlives the wait, without the header, or with respond-async', async () => {
      const slow = await http.post(
        '/api/v1/vms',
        { name: uniq('slow'), environment_id: envId, size: 'small', image: 'debian-12', tags: { 'mockcloud:duration': '300' } },
        { headers: { prefer: 'wait=1' } },
      );
      expect(slow.status).to.equal(202);
      expect(slow.body.status).to.equal('creating');
      expect(slow.headers.get('preference-applied')).to.equal(null);
      const plain = await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: envId, size_gb: 1 });
      expect(plain.status).to.equal(202);
      const async = await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: envId, size_gb: 1 }, { headers: { prefer: 'respond-async, wait=30' } });
      expect(async.status).to.equal(202);
      const junk = await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: envId, size_gb: 1 }, { headers: { prefer: 'wait=soon' } });
      expect(junk.status, 'a preference it does not understand is ignored (RFC 7240)').to.equal(202);
    });
  });
});
