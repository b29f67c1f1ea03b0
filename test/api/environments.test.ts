import { expect } from 'chai';
import { client, uniq, type Client } from '../support/http.js';
import { startTestApi, type TestApi } from '../support/stack.js';

describe('api: environments', () => {
  let api: TestApi;
  let http: Client;
  before(async () => {
    api = await startTestApi();
    http = client(api.baseUrl);
  });
  after(() => api.close());

  const create = (body: Record<string, unknown>) => http.post('/api/v1/environments/', body);

  it('creates an environment with the default CIDR, a Location and an ETag', async () => {
    const name = uniq('env');
    const r = await create({ name });
    expect(r.status).to.equal(201);
    expect(r.body).to.include({ name, cidr: '10.0.0.0/16', status: 'available' });
    expect(r.body.id).to.match(/^env-[0-9a-z]{16}$/);
    expect(r.headers.get('location')).to.equal(`/api/v1/environments/${r.body.id}`);
    expect(r.headers.get('etag')).to.match(/^".+"$/);
    const got = await http.get(`/api/v1/environments/${r.body.id}`);
    expect(got.status).to.equal(200);
    expect(got.body).to.deep.equal(r.body);
    expect(got.headers.get('etag')).to.equal(r.headers.get('etag'));
  });

  it('echoes the CIDR and tags exactly as sent, key order included', async () => {
    const tags = { zeta: '1', alpha: '2', 'mockcloud:team': 'infra' };
    const r = await create({ name: uniq(), cidr: '172.16.0.0/20', tags });
    expect(r.status).to.equal(201);
    expect(r.body.cidr).to.equal('172.16.0.0/20');
    expect(Object.keys(r.body.tags)).to.deep.equal(['zeta', 'alpha', 'mockcloud:team']);
  });

  it('answers on the seed path and without the trailing slash alike', async () => {
    const a = await http.get('/api/v1/environments/');
    const b = await http.get('/api/v1/environments');
    expect(a.status).to.equal(200);
    expect(b.status).to.equal(200);
  });

  for (const [cidr, why] of [
    ['10.0.0.0/15', 'prefix too short'],
    ['10.0.0.0/29', 'prefix too long'],
    ['10.0.0.1/16', 'host bits set'],
    ['300.0.0.0/16', 'octet out of range'],
    ['10.0.0/16', 'three octets'],
    ['10.0.0.0', 'no prefix'],
    ['fe80::/64', 'IPv6'],
  ]) {
    it(`refuses CIDR ${cidr} (${why}) with 400 validation_failed and creates nothing`, async () => {
      const name = uniq();
      const r = await create({ name, cidr });
      expect(r.status).to.equal(400);
      expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(r.body.code).to.equal('validation_failed');
      expect(r.body.errors[0].path).to.equal('/body/cidr');
      const list = await http.get(`/api/v1/environments?name=${name}`);
      expect(list.body.items).to.have.length(0);
    });
  }

  it('refuses a duplicate name with 409 already_exists', async () => {
    const name = uniq();
    expect((await create({ name })).status).to.equal(201);
    const r = await create({ name });
    expect(r.status).to.equal(409);
    expect(r.body.code).to.equal('already_exists');
    expect(r.body.detail).to.contain(name);
  });

  const badBodies: [string, unknown][] = [
    ['a missing name', { cidr: '10.0.0.0/16' }],
    ['a name of the wrong type', { name: 42 }],
    ['an unknown field', { name: 'x', colour: 'blue' }],
    ['a name longer than 63 characters', { name: 'a'.repeat(64) }],
    ['a name with spaces', { name: 'my env' }],
    ['51 tags', { name: 'x', tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }],
    ['a non-string tag value', { name: 'x', tags: { a: 1 } }],
    ['an array body', [1, 2]],
  ];
  for (const [what, body] of badBodies) {
    it(`refuses ${what} with 400 validation_failed`, async () => {
      const r = await create(body as Record<string, unknown>);
      expect(r.status).to.equal(400);
      expect(r.body.code).to.equal('validation_failed');
      expect(r.body.errors).to.be.an('array').that.is.not.empty;
      expect(r.body.request_id).to.be.a('string').and.not.empty;
    });
  }

  it('accepts exactly 50 tags', async () => {
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
    expect((await create({ name: uniq(), tags })).status).to.equal(201);
  });

  it('refuses malformed JSON with a 400 problem', async () => {
    const r = await http.call('POST', '/api/v1/environments', { raw: '{"name": "x",' });
    expect(r.status).to.equal(400);
    expect(r.body.code).to.equal('validation_failed');
    expect(r.body.detail).to.match(/not valid JSON/);
  });

  it('refuses a body that is not JSON with 415 unsupported_media_type', async () => {
    const r = await http.call('POST', '/api/v1/environments', { raw: 'name=x', contentType: 'text/plain' });
    expect(r.status).to.equal(415);
    expect(r.body.code).to.equal('unsupported_media_type');
  });

  it('refuses a body over 1 MiB with 413 payload_too_large', async () => {
    const r = await http.call('POST', '/api/v1/environments', { raw: JSON.stringify({ name: 'x', pad: 'a'.repeat(1_100_000) }) });
    expect(r.status).to.equal(413);
    expect(r.body.code).to.equal('payload_too_large');
  });

  it('answers 404 not_found for an unknown id and for an unknown route', async () => {
    const a = await http.get('/api/v1/environments/env-doesnotexist0000');
    expect(a.status).to.equal(404);
    expect(a.body.code).to.equal('not_found');
    const b = await http.get('/api/v1/nowhere');
    expect(b.status).to.equal(404);
    expect(b.body.code).to.equal('not_found');
    expect(b.headers.get('content-type')).to.match(/problem\+json/);
  });

  it('answers 405 for a method the path does not have', async () => {
    const r = await http.call('PUT', '/api/v1/environments', { body: {} });
    expect(r.status).to.equal(405);
    expect(r.body.code).to.equal('method_not_allowed');
  });

  describe('PATCH (JSON merge patch)', () => {
    it('renames, merges tags (null removes a key) and answers the whole resource', async () => {
      const c = await create({ name: uniq(), tags: { a: '1', b: '2' } });
      const name = uniq('renamed');
      const r = await http.patch(`/api/v1/environments/${c.body.id}`, { name, tags: { b: null, c: '3' } });
      expect(r.status).to.equal(200);
      expect(r.body.name).to.equal(name);
      expect(r.body.tags).to.deep.equal({ a: '1', c: '3' });
      expect(r.body.cidr).to.equal(c.body.cidr);
      expect((await http.get(`/api/v1/environments/${c.body.id}`)).body).to.deep.equal(r.body);
    });

    it('takes plain application/json as a merge patch too', async () => {
      const c = await create({ name: uniq() });
      const r = await http.patch(`/api/v1/environments/${c.body.id}`, { tags: { x: 'y' } }, { contentType: 'application/json' });
      expect(r.status).to.equal(200);
      expect(r.body.tags).to.deep.equal({ x: 'y' });
    });

    it('refuses to change the CIDR with 422 immutable_field, and changes nothing', async () => {
      const c = await create({ name: uniq() });
      const r = await http.patch(`/api/v1/environments/${c.body.id}`, { cidr: '10.1.0.0/16', name: uniq() });
      expect(r.status).to.equal(422);
      expect(r.body.code).to.equal('immutable_field');
      expect((await http.get(`/api/v1/environments/${c.body.id}`)).body).to.deep.equal(c.body);
    });

    it('accepts the unchanged CIDR (tools send the whole object back)', async () => {
      const c = await create({ name: uniq() });
      const r = await http.patch(`/api/v1/environments/${c.body.id}`, { cidr: c.body.cidr });
      expect(r.status).to.equal(200);
    });

    it('refuses a rename onto an existing name with 409', async () => {
      const a = await create({ name: uniq() });
      const b = await create({ name: uniq() });
      const r = await http.patch(`/api/v1/environments/${b.body.id}`, { name: a.body.name });
      expect(r.status).to.equal(409);
      expect(r.body.code).to.equal('already_exists');
    });

    it('honours If-Match: a stale ETag gets 412 and changes nothing', async () => {
      const c = await create({ name: uniq() });
      const etag = c.headers.get('etag')!;
      const ok = await http.patch(`/api/v1/environments/${c.body.id}`, { tags: { v: '1' } }, { headers: { 'if-match': etag } });
      expect(ok.status).to.equal(200);
      const stale = await http.patch(`/api/v1/environments/${c.body.id}`, { tags: { v: '2' } }, { headers: { 'if-match': etag } });
      expect(stale.status).to.equal(412);
      expect(stale.body.code).to.equal('precondition_failed');
      expect((await http.get(`/api/v1/environments/${c.body.id}`)).body.tags).to.deep.equal({ v: '1' });
    });

    it('refuses an unknown field with 400', async () => {
      const c = await create({ name: uniq() });
      const r = await http.patch(`/api/v1/environments/${c.body.id}`, { size: 3 });
      expect(r.status).to.equal(400);
    });
  });

  describe('DELETE', () => {
    it('deletes an empty environment with 204, then answers 404', async () => {
      const c = await create({ name: uniq() });
      const r = await http.del(`/api/v1/environments/${c.body.id}`);
      expect(r.status).to.equal(204);
      expect(r.text).to.equal('');
      expect((await http.get(`/api/v1/environments/${c.body.id}`)).status).to.equal(404);
      expect((await http.del(`/api/v1/environments/${c.body.id}`)).status).to.equal(404);
    });

    it('refuses to delete an environment that still holds a security group, listing it', async () => {
      const env = await create({ name: uniq() });
      const sg = await http.post('/api/v1/security-groups/', { name: uniq('sg'), environment_id: env.body.id });
      const r = await http.del(`/api/v1/environments/${env.body.id}`);
      expect(r.status).to.equal(409);
      expect(r.body.code).to.equal('dependency_violation');
      expect(r.body.dependents).to.deep.equal([{ id: sg.body.id, type: 'security_group' }]);
      expect((await http.get(`/api/v1/environments/${env.body.id}`)).status).to.equal(200);
      expect((await http.del(`/api/v1/security-groups/${sg.body.id}`)).status).to.equal(204);
      expect((await http.del(`/api/v1/environments/${env.body.id}`)).status).to.equal(204);
    });
  });

  describe('lists', () => {
    it('pages with limit and next_page_token in creation order, without gaps or repeats', async () => {
      const tag = uniq('page');
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await create({ name: uniq(), tags: { suite: tag } })).body.id);
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const r = await http.get(`/api/v1/environments?limit=3&tags[suite]=${tag}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
        expect(r.status).to.equal(200);
        expect(r.body.items.length).to.be.at.most(3);
        seen.push(...r.body.items.map((e: { id: string }) => e.id));
        token = r.body.next_page_token || undefined;
        pages++;
      } while (token);
      expect(seen).to.deep.equal(ids);
      expect(pages).to.equal(3);
    });

    it('filters by name and by several tags at once', async () => {
      const tag = uniq('f');
      const a = await create({ name: uniq(), tags: { suite: tag, tier: 'web' } });
      await create({ name: uniq(), tags: { suite: tag, tier: 'db' } });
      const byTags = await http.get(`/api/v1/environments?tags[suite]=${tag}&tags[tier]=web`);
      expect(byTags.body.items.map((e: { id: string }) => e.id)).to.deep.equal([a.body.id]);
      const byName = await http.get(`/api/v1/environments?name=${a.body.name}`);
      expect(byName.body.items.map((e: { id: string }) => e.id)).to.deep.equal([a.body.id]);
    });

    it('clamps limit to 500 and refuses limit=0 and non-numbers with 400', async () => {
      expect((await http.get('/api/v1/environments?limit=1000')).status).to.equal(200);
      for (const bad of ['0', '-1', 'abc']) {
        const r = await http.get(`/api/v1/environments?limit=${bad}`);
        expect(r.status, bad).to.equal(400);
        expect(r.body.code).to.equal('validation_failed');
      }
    });

    it('refuses a tampered page token with 400 invalid_page_token', async () => {
      const tag = uniq('tok');
      for (let i = 0; i < 2; i++) await create({ name: uniq(), tags: { suite: tag } });
      const first = await http.get(`/api/v1/environments?limit=1&tags[suite]=${tag}`);
      const token: string = first.body.next_page_token;
      const tampered = (token[0] === 'a' ? 'b' : 'a') + token.slice(1);
      for (const bad of [tampered, 'garbage', '']) {
        const r = await http.get(`/api/v1/environments?page_token=${encodeURIComponent(bad)}`);
        if (bad === '') continue; // an empty token means "from the start"
        expect(r.status, bad).to.equal(400);
        expect(r.body.code).to.equal('invalid_page_token');
      }
    });
  });

  it('echoes a caller X-Request-Id and generates one otherwise', async () => {
    const r = await http.get('/api/v1/environments', { headers: { 'x-request-id': 'abc-123' } });
    expect(r.headers.get('x-request-id')).to.equal('abc-123');
    const g = await http.get('/api/v1/environments');
    expect(g.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });
});
