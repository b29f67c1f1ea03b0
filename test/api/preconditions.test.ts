import { expect } from 'chai';
import { uniq, type Client } from '../support/http.js';
import { startApiWithEnvironment, type TestApi } from '../support/stack.js';
import { settle } from '../support/wait.js';

describe('api: ETag and If-Match on every resource', () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  before(async () => {
    ({ api, http, envId } = await startApiWithEnvironment({ timeScale: 0.01, failureRate: 0 }));
  });
  after(() => api.close());

  const settled = async (path: string, body: Record<string, unknown>) => {
    const r = await http.post(path, body);
    await settle(http, r.body.operation_id);
    return http.get(`${path}/${r.body.id}`);
  };

  for (const [kind, path, body] of [
    ['VM', '/api/v1/vms', () => ({ name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12' })],
    ['volume', '/api/v1/volumes', () => ({ name: uniq('vol'), environment_id: envId, size_gb: 1 })],
  ] as const) {
    it(`${kind}: PATCH and DELETE refuse a stale If-Match with 412 and change nothing, and accept the current ETag`, async () => {
      const got = await settled(path, body());
      const etag = got.headers.get('etag')!;
      expect(etag).to.match(/^".+"$/);
      const patched = await http.patch(`${path}/${got.body.id}`, { tags: { v: '1' } }, { headers: { 'if-match': etag } });
      expect(patched.status).to.equal(200);
      expect(patched.headers.get('etag')).to.not.equal(etag);
      const stalePatch = await http.patch(`${path}/${got.body.id}`, { tags: { v: '2' } }, { headers: { 'if-match': etag } });
      expect(stalePatch.status).to.equal(412);
      expect(stalePatch.body.code).to.equal('precondition_failed');
      const staleDelete = await http.del(`${path}/${got.body.id}`, { headers: { 'if-match': etag } });
      expect(staleDelete.status).to.equal(412);
      const now = await http.get(`${path}/${got.body.id}`);
      expect(now.body.tags).to.deep.equal({ v: '1' });
      expect(now.headers.get('etag')).to.equal(patched.headers.get('etag'));
      const del = await http.del(`${path}/${got.body.id}`, { headers: { 'if-match': now.headers.get('etag')! } });
      expect(del.status).to.equal(202);
      await settle(http, del.body.operation_id);
    });
  }
});
