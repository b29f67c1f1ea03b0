import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createRateLimiter, type RateLimiter } from '../../core/identity/rate-limit.js';
import { createMetrics } from '../../core/metrics.js';
import { ADMIN_TOKEN, authed, buildWorld, type World } from '../support/auth.js';
import { uniq } from '../support/http.js';
import { openSse } from '../support/sse.js';
import { distributedUrls, STACK, startTestApi, type TestApi } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

// SPEC §10 beyond the matrix: soft mode, revocation and rate limits across replicas, /events
// isolation, and bad input to every identity endpoint.

describe('auth: soft mode allows but records', function () {
  this.timeout(60_000);
  let api: TestApi;
  const metrics = createMetrics('test-soft');
  before(async () => {
    api = await startTestApi({ auth: 'soft', adminToken: ADMIN_TOKEN, metrics });
  });
  after(() => api?.close());

  it('lets a request without a token through, flags it, counts it and audits it', async () => {
    const anon = authed(api.baseUrl, undefined);
    const r = await anon.post('/api/v1/environments', { name: uniq('env') });
    expect(r.status).to.equal(201);
    expect(r.headers.get('mockcloud-authz-would-deny')).to.equal('unauthorized');
    const trail = (await authed(api.baseUrl, ADMIN_TOKEN).get(`/api/v1/audit-events?resource_id=${r.body.id}`)).body.items;
    expect(trail).to.have.length(1);
    expect(trail[0]).to.include({ decision: 'would_deny', status: 201, actor: 'anonymous', operation_id: 'createEnvironment' });
    expect(await metrics.registry.getSingleMetricAsString('mockcloud_authz_denials_total')).to.match(/mode="soft",code="unauthorized"[^\n]* [1-9]/);
  });

  it('lets a viewer write, naming the missing scope in the header', async () => {
    const w = await buildWorld(api);
    const r = await authed(api.baseUrl, w.tokens.viewer).post('/api/v1/environments', { name: uniq('env') });
    expect(r.status).to.equal(201);
    expect(r.headers.get('mockcloud-authz-would-deny')).to.equal('forbidden; missing_scopes="environments:write"');
    expect(r.body.id).to.be.a('string');
    // ...in the viewer's own project, audited there
    const trail = (await authed(api.baseUrl, w.tokens.owner).get(`/api/v1/audit-events?resource_id=${r.body.id}`)).body.items;
    expect(trail[0]).to.include({ decision: 'would_deny', actor: w.users.viewer });
    // an allowed request carries no flag
    const ok = await authed(api.baseUrl, w.tokens.viewer).get('/api/v1/environments');
    expect(ok.headers.get('mockcloud-authz-would-deny')).to.equal(null);
  });
});

describe('auth: two replicas on one database and bus', function () {
  this.timeout(60_000);
  let a: TestApi;
  let b: TestApi;
  let redis: Redis | undefined;
  let limiter: RateLimiter;
  before(async () => {
    // The shared budget: in Redis on the distributed stack (as `mockcloud server` does), else one
    // in-memory store standing for it.
    redis = STACK === 'distributed' ? new Redis(distributedUrls().redis) : undefined;
    limiter = createRateLimiter({ points: 5, durationS: 60 }, { redis, keyPrefix: `mockcloud-test-rl-${randomUUID()}` });
    a = await startTestApi({ auth: 'enforce', adminToken: ADMIN_TOKEN });
    b = await startTestApi({ auth: 'enforce', adminToken: ADMIN_TOKEN, stack: a, worker: false });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    redis?.disconnect();
  });

  it('sees a revocation made on the other replica', async () => {
    const w = await buildWorld(a);
    const onB = authed(b.baseUrl, w.tokens.editor);
    expect((await onB.get('/api/v1/vms')).status).to.equal(200); // verified and cached on B
    expect((await authed(a.baseUrl, ADMIN_TOKEN).del(`/api/v1/tokens/${w.tokenIds.editor}`)).status).to.equal(204);
    await waitFor('B refuses the revoked token', async () => (await onB.get('/api/v1/vms')).status === 401, 5000);
    const r = await onB.get('/api/v1/vms');
    expect(r.body.detail).to.equal('the token was revoked');
  });

  it('shares one rate limit budget between replicas, with the IETF and X- headers', async () => {
    const one = await startTestApi({ auth: 'enforce', adminToken: ADMIN_TOKEN, stack: a, worker: false, rateLimiter: limiter });
    const two = await startTestApi({ auth: 'enforce', adminToken: ADMIN_TOKEN, stack: a, worker: false, rateLimiter: limiter });
    try {
      const w = await buildWorld(a);
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await authed(i % 2 ? two.baseUrl : one.baseUrl, w.tokens.viewer).get('/api/v1/vms');
        seen.push(r.status);
        expect(r.headers.get('ratelimit-policy')).to.equal('"default";q=5;w=60');
        expect(r.headers.get('ratelimit')).to.match(new RegExp(`^"default";r=${4 - i};t=\\d+$`));
        expect(r.headers.get('x-ratelimit-limit')).to.equal('5');
        expect(r.headers.get('x-ratelimit-remaining')).to.equal(String(4 - i));
        expect(Number(r.headers.get('x-ratelimit-reset'))).to.be.within(1, 60);
      }
      expect(seen).to.deep.equal([200, 200, 200, 200, 200]);
      const over = await authed(two.baseUrl, w.tokens.viewer).get('/api/v1/vms');
      expect(over.status).to.equal(429);
      expect(over.body.code).to.equal('rate_limited');
      expect(Number(over.headers.get('retry-after'))).to.be.within(1, 60);
      // another token has its own budget; without a token the client IP is the key
      expect((await authed(one.baseUrl, w.tokens.editor).get('/api/v1/vms')).status).to.equal(200);
      expect((await authed(one.baseUrl, undefined).get('/api/v1/vms')).headers.get('x-ratelimit-remaining')).to.equal('4');
    } finally {
      await two.close();
      await one.close();
    }
  });
});

describe('auth: /events shows a project only its own events', function () {
  this.timeout(60_000);
  let api: TestApi;
  let w: World;
  before(async () => {
    api = await startTestApi({ auth: 'enforce', adminToken: ADMIN_TOKEN });
    w = await buildWorld(api);
  });
  after(() => api?.close());

  it('streams P’s events to P and none of them to Q', async () => {
    const pStream = openSse(`${api.baseUrl}/api/v1/events?last_event_id=0`, { authorization: `Bearer ${w.tokens.viewer}` });
    const qStream = openSse(`${api.baseUrl}/api/v1/events?last_event_id=0`, { authorization: `Bearer ${w.tokens.other}` });
    try {
      const pEnv = (await authed(api.baseUrl, w.tokens.owner).post('/api/v1/environments', { name: uniq('env') })).body;
      const qEnv = (await authed(api.baseUrl, w.tokens.other).post('/api/v1/environments', { name: uniq('env') })).body;
      const has = (s: typeof pStream, id: string) => s.events.some((e) => JSON.stringify(e.data).includes(id));
      await waitFor('P sees its environment', async () => has(pStream, pEnv.id));
      await waitFor('Q sees its environment', async () => has(qStream, qEnv.id));
      expect(has(qStream, pEnv.id)).to.equal(false);
      expect(has(pStream, qEnv.id)).to.equal(false);
    } finally {
      await pStream.close();
      await qStream.close();
    }
  });
});

describe('auth: bad input to the identity endpoints is a problem, never a 500', function () {
  this.timeout(60_000);
  let api: TestApi;
  let w: World;
  before(async () => {
    api = await startTestApi({ auth: 'enforce', adminToken: ADMIN_TOKEN });
    w = await buildWorld(api);
  });
  after(() => api?.close());

  const cases: [string, string, string, unknown, number][] = [
    ['createUser without a name', 'POST', '/api/v1/users', {}, 400],
    ['createUser with spaces in the name', 'POST', '/api/v1/users', { name: 'Bad Name' }, 400],
    ['createUser with an unknown field', 'POST', '/api/v1/users', { name: 'ok', admin: true }, 400],
    ['createUser with a bad email', 'POST', '/api/v1/users', { name: 'ok2', email: 'nope' }, 400],
    ['createProject without a name', 'POST', '/api/v1/projects', {}, 400],
    ['createProject with an unknown owner', 'POST', '/api/v1/projects', { name: 'p-unknown-owner', owner_id: 'usr-nope' }, 404],
    ['putMember with an unknown role', 'PUT', '/api/v1/projects/{p}/members/{u}', { role: 'king' }, 400],
    ['putMember of an unknown user', 'PUT', '/api/v1/projects/{p}/members/usr-nope', { role: 'viewer' }, 404],
    ['putMember in an unknown project', 'PUT', '/api/v1/projects/prj-nope/members/{u}', { role: 'viewer' }, 404],
    ['createToken without scopes', 'POST', '/api/v1/tokens', { name: 'x', scopes: [] }, 400],
    ['createToken with a malformed scope', 'POST', '/api/v1/tokens', { name: 'x', scopes: ['vms'] }, 400],
    ['createToken with a zero lifetime', 'POST', '/api/v1/tokens', { name: 'x', scopes: ['vms:read'], expires_in_s: 0 }, 400],
    ['createToken in an unknown project', 'POST', '/api/v1/tokens', { name: 'x', project_id: 'prj-nope', scopes: ['vms:read'] }, 404],
    ['createToken for a user outside the project', 'POST', '/api/v1/tokens', { name: 'x', project_id: '{p}', user_id: '{otherOwner}', scopes: ['vms:read'] }, 422],
    ['listAuditEvents with an unknown decision', 'GET', '/api/v1/audit-events?decision=maybe', undefined, 400],
    ['listAuditEvents with a tampered page token', 'GET', '/api/v1/audit-events?page_token=abc.def', undefined, 400],
    ['listTokens with limit 0', 'GET', '/api/v1/tokens?limit=0', undefined, 400],
    ['listUsers with an unknown parameter', 'GET', '/api/v1/users?role=x', undefined, 400],
    ['revokeToken of an unknown token', 'DELETE', '/api/v1/tokens/tok-nope', undefined, 404],
    ['deleteProject of the default project', 'DELETE', '/api/v1/projects/default', undefined, 409],
  ];
  for (const [name, method, path, body, status] of cases) {
    it(`${name} → ${status} problem+json`, async () => {
      const fill = (s: string) => s.replace('{p}', w.p).replace('{u}', w.users.viewer).replace('{otherOwner}', w.users.otherOwner);
      const b = body === undefined ? undefined : JSON.parse(fill(JSON.stringify(body)));
      const r = await authed(api.baseUrl, ADMIN_TOKEN).call(method, fill(path), { body: b });
      expect(r.status, r.text).to.equal(status);
      expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(r.body.code).to.be.a('string');
    });
  }

  it('refuses to delete a project that still holds environments', async () => {
    await w.adminP.post('/api/v1/environments', { name: uniq('env') });
    const r = await w.admin.del(`/api/v1/projects/${w.p}`);
    expect(r.status).to.equal(409);
    expect(r.body.code).to.equal('dependency_violation');
  });
});
