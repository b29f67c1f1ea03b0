import http from 'node:http';
import { expect } from 'chai';
import fs from 'node:fs';
import YAML from 'yaml';
import { fromDbError } from '../../core/db-errors.js';
import { IdempotencyStore, ABANDONED_MS, fingerprint } from '../../core/idempotency/store.js';
import { afterCreateConflict, MAX_ADDRESS_ATTEMPTS } from '../../core/vms/service.js';
import { AppError } from '../../core/errors.js';
import { openapiPath } from '../../core/paths.js';
import { withoutTrailingSlashes } from '../../server/guards.js';
import { client, uniq, type Client } from '../support/http.js';
import { openTestStack, startTestApi, STACK, type TestApi } from '../support/stack.js';

const isProblem = (r: { headers: Headers; body: any }, status: number, code?: string) => {
  expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(r.body.status).to.equal(status);
  if (code) expect(r.body.code).to.equal(code);
};

/** A raw request, for what fetch will not send (a Host header, an oversized header). */
function raw(baseUrl: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe(`api: hostile input answers 4xx problems (${STACK})`, () => {
  let api: TestApi;
  let h: Client;
  let envId: string;
  before(async () => {
    api = await startTestApi({ timeScale: 0.01, failureRate: 0 });
    h = client(api.baseUrl);
    envId = (await h.post('/api/v1/environments', { name: uniq('env') })).body.id;
  });
  after(() => api.close());

  it('refuses more than 10 tag filter pairs with 400', async () => {
    const q = Array.from({ length: 11 }, (_, i) => `tags[k${i}]=v`).join('&');
    const r = await h.get(`/api/v1/vms?${q}`);
    expect(r.status).to.equal(400);
    isProblem(r, 400, 'validation_failed');
    const ok = await h.get(`/api/v1/vms?${Array.from({ length: 10 }, (_, i) => `tags[k${i}]=v`).join('&')}`);
    expect(ok.status).to.equal(200);
  });

  it('refuses a NUL byte in a path id, a query value, a tag value and a description with 400 on both stores', async () => {
    for (const r of [
      await h.get('/api/v1/vms/vm-abc%00def'),
      await h.get('/api/v1/environments?name=a%00b'),
      await h.post('/api/v1/environments', { name: uniq('env'), tags: { a: 'x\u0000y' } }),
      await h.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: envId, description: 'a\u0000b' }),
      await h.post('/api/v1/environments', { name: uniq('env'), tags: { 'k\u0000': 'v' } }),
    ]) {
      expect(r.status, r.text).to.equal(400);
      isProblem(r, 400, 'validation_failed');
    }
  });

  it('refuses a 5,000-deep JSON body with 400, with or without an Idempotency-Key', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    for (const headers of [{}, { 'idempotency-key': uniq('k') }] as Record<string, string>[]) {
      const r = await h.call('POST', '/api/v1/environments', { raw: `{"name":"x","tags":${deep}}`, headers });
      expect(r.status, r.text).to.equal(400);
      isProblem(r, 400, 'validation_failed');
    }
  });

  it('answers an oversized URL or header with a 431 problem document', async () => {
    const longUrl = await raw(api.baseUrl, `/api/v1/environments?name=${'a'.repeat(20_000)}`, {});
    const longHeader = await raw(api.baseUrl, '/api/v1/environments', { 'x-big': 'b'.repeat(20_000) });
    for (const r of [longUrl, longHeader]) {
      expect(r.status).to.equal(431);
      expect(r.headers['content-type']).to.equal('application/problem+json');
      expect(JSON.parse(r.body)).to.include({ status: 431, code: 'validation_failed' });
    }
  });

  it('strips trailing slashes without a backtracking regex, whatever their number', async () => {
    const slashes = '/'.repeat(50_000);
    expect(withoutTrailingSlashes(`/api/v1/vms${slashes}`)).to.equal('/api/v1/vms');
    expect(withoutTrailingSlashes(`${slashes}a${slashes}`)).to.equal(`${slashes}a`);
    expect(withoutTrailingSlashes('/')).to.equal('/');
    const r = await h.get(`/api/v1/environments${'/'.repeat(4000)}`);
    expect(r.status).to.equal(404);
    isProblem(r, 404, 'not_found');
  });

  it('refuses an unknown ?status= with 400 on every list that has statuses', async () => {
    for (const path of ['/api/v1/vms', '/api/v1/volumes', '/api/v1/environments']) {
      const r = await h.get(`${path}?status=nonsense`);
      expect(r.status, path).to.equal(400);
      isProblem(r, 400, 'validation_failed');
    }
    expect((await h.get('/api/v1/vms?status=running')).status).to.equal(200);
  });

  it('refuses simulated durations beyond a day (min_s/max_s ≤ 86400)', async () => {
    const r = await h.patch('/api/v1/simulation', { operations: { 'vm.create': { min_s: 1e308, max_s: 1e308 } } });
    expect(r.status).to.equal(400);
    isProblem(r, 400, 'validation_failed');
  });

  it('refuses __proto__, constructor and prototype as tag keys on create, PATCH and in filters', async () => {
    const env = (await h.post('/api/v1/environments', { name: uniq('env') })).body;
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const create = await h.call('POST', '/api/v1/environments', { raw: `{"name":"${uniq('env')}","tags":{"${key}":"x"}}` });
      expect(create.status, `create ${key}`).to.equal(400);
      const patch = await h.call('PATCH', `/api/v1/environments/${env.id}`, { raw: `{"tags":{"${key}":"x"}}`, contentType: 'application/merge-patch+json' });
      expect(patch.status, `patch ${key}`).to.equal(400);
      const filter = await h.get(`/api/v1/environments?tags[${key}]=x`);
      expect(filter.status, `filter ${key}`).to.equal(400);
      isProblem(filter, 400, 'validation_failed');
    }
    expect((await h.get(`/api/v1/environments/${env.id}`)).body.tags).to.deep.equal({});
  });

  it('replays an idempotent request whose body has the same keys in another order', async () => {
    const key = uniq('k');
    const name = uniq('env');
    const first = await h.call('POST', '/api/v1/environments', { raw: `{"name":"${name}","tags":{"a":"1","b":"2"}}`, headers: { 'idempotency-key': key } });
    expect(first.status).to.equal(201);
    const again = await h.call('POST', '/api/v1/environments', { raw: `{"tags":{"b":"2","a":"1"},"name":"${name}"}`, headers: { 'idempotency-key': key } });
    expect(again.status).to.equal(201);
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    expect(again.body.id).to.equal(first.body.id);
    expect(fingerprint('POST', '/x', { a: 1, b: { c: 2, d: 3 } })).to.equal(fingerprint('POST', '/x', { b: { d: 3, c: 2 }, a: 1 }));
  });

  it('refuses a page token in another collection or with other filters (400 invalid_page_token)', async () => {
    for (let i = 0; i < 2; i++) await h.post('/api/v1/environments', { name: uniq('env'), tags: { pt: 'x' } });
    const page = await h.get('/api/v1/environments?limit=1&tags[pt]=x');
    const token = encodeURIComponent(page.body.next_page_token);
    expect((await h.get(`/api/v1/environments?limit=1&tags[pt]=x&page_token=${token}`)).status).to.equal(200);
    for (const path of [`/api/v1/vms?limit=1&tags[pt]=x&page_token=${token}`, `/api/v1/environments?limit=1&page_token=${token}`, `/api/v1/environments?limit=1&tags[pt]=y&page_token=${token}`, `/api/v1/operations?limit=1&page_token=${token}`]) {
      const r = await h.get(path);
      expect(r.status, path).to.equal(400);
      isProblem(r, 400, 'invalid_page_token');
    }
  });

  it('PATCH /simulation honours If-Match and answers an ETag', async () => {
    const got = await h.get('/api/v1/simulation');
    const etag = got.headers.get('etag')!;
    const stale = await h.patch('/api/v1/simulation', { failure_rate: 0 }, { headers: { 'if-match': '"not-it"' } });
    expect(stale.status).to.equal(412);
    isProblem(stale, 412, 'precondition_failed');
    const ok = await h.patch('/api/v1/simulation', { failure_rate: 0 }, { headers: { 'if-match': etag } });
    expect(ok.status).to.equal(200);
    expect(ok.headers.get('etag')).to.match(/^".+"$/);
  });

  it('accepts any limit and clamps it to 500, as the contract and SPEC say', async () => {
    expect((await h.get('/api/v1/environments?limit=100000')).status).to.equal(200);
    const spec = YAML.parse(fs.readFileSync(openapiPath(), 'utf8'));
    expect(spec.components.parameters.Limit.schema.maximum).to.equal(undefined);
    expect(spec.components.parameters.Limit.description).to.contain('500');
  });

  it('the contract documents no 202 for PATCH and only operation kinds that exist', () => {
    const spec = YAML.parse(fs.readFileSync(openapiPath(), 'utf8'));
    expect(Object.keys(spec.paths['/api/v1/vms/{id}'].patch.responses)).to.not.include('202');
    expect(Object.keys(spec.paths['/api/v1/volumes/{id}'].patch.responses)).to.not.include('202');
    expect(spec.components.schemas.OperationKind.enum).to.deep.equal([
      'vm.create', 'vm.delete', 'vm.start', 'vm.stop', 'vm.reboot', 'volume.create', 'volume.delete', 'volume.attach', 'volume.detach',
    ]);
  });

  if (STACK === 'distributed') {
    it('gives every PostgreSQL connection a statement timeout', async () => {
      const r = await api.db.raw('show statement_timeout');
      expect(r.rows[0].statement_timeout).to.equal('10s');
    });
  }
});

describe('api: database errors a client can cause map to problem codes', () => {
  it('maps unique, foreign-key, check, bad-text, conflict and timeout errors of both stores', () => {
    const cases: [string, string, number][] = [
      ['23505', 'already_exists', 409],
      ['SQLITE_CONSTRAINT_UNIQUE', 'already_exists', 409],
      ['23503', 'invalid_value', 422],
      ['SQLITE_CONSTRAINT_FOREIGNKEY', 'invalid_value', 422],
      ['23514', 'invalid_value', 422],
      ['22021', 'validation_failed', 400],
      ['22P05', 'validation_failed', 400],
      ['40001', 'unavailable', 503],
      ['40P01', 'unavailable', 503],
      ['57014', 'unavailable', 503],
    ];
    for (const [code, want, status] of cases) {
      const e = fromDbError(Object.assign(new Error('db'), { code }));
      expect(e?.code, code).to.equal(want);
      expect(e?.status, code).to.equal(status);
    }
    expect(fromDbError(new Error('a bug'))).to.equal(undefined);
  });

  it('after 20 address clashes tells the client it could not get an address, not that the name exists', () => {
    const clash = Object.assign(new Error('UNIQUE constraint failed: vms.environment_id, vms.private_ip'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(afterCreateConflict(clash, 0, 'web')).to.equal('retry');
    const last = afterCreateConflict(clash, MAX_ADDRESS_ATTEMPTS, 'web') as AppError;
    expect(last).to.be.instanceOf(AppError);
    expect(last.code).to.equal('unavailable');
    expect(last.retryAfter).to.equal(1);
    const name = Object.assign(new Error('UNIQUE constraint failed: vms.environment_id, vms.name'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect((afterCreateConflict(name, 0, 'web') as AppError).code).to.equal('already_exists');
  });
});

describe(`idempotency: an in-flight key is not taken over while its request still runs (${STACK})`, () => {
  it('keeps a key whose request renews its heartbeat, and frees one whose process stopped renewing', async () => {
    const stack = await openTestStack();
    try {
      let now = Date.parse('2026-11-27T00:00:00.000Z');
      const store = new IdempotencyStore(stack.db, () => now);
      const project = 'default';
      const live = uniq('live');
      const dead = uniq('dead');
      expect((await store.begin(project, live, 'f')).kind).to.equal('proceed');
      expect((await store.begin(project, dead, 'f')).kind).to.equal('proceed');
      now += ABANDONED_MS / 2;
      await store.heartbeat(project, live);
      now += ABANDONED_MS / 2 + 5_000; // 65 s after the start, 35 s after the last heartbeat
      const retry = await store.begin(project, live, 'f').catch((e: unknown) => e);
      expect(retry).to.be.instanceOf(AppError).with.property('code', 'idempotency_key_in_flight');
      expect((await store.begin(project, dead, 'f')).kind).to.equal('proceed');
    } finally {
      await stack.close();
    }
  });
});

describe('api: safe defaults — CORS opt-in and the loopback Host check (SPEC §10)', () => {
  it('sends no CORS headers unless origins are configured, then only to those origins', async () => {
    const plain = await startTestApi();
    const allowed = await startTestApi({ app: { corsOrigins: ['http://ui.test:3000'] } });
    try {
      const r = await client(plain.baseUrl).get('/api/v1/environments', { headers: { origin: 'http://evil.test' } });
      expect(r.status).to.equal(200);
      expect(r.headers.get('access-control-allow-origin')).to.equal(null);
      const ok = await client(allowed.baseUrl).get('/api/v1/environments', { headers: { origin: 'http://ui.test:3000' } });
      expect(ok.headers.get('access-control-allow-origin')).to.equal('http://ui.test:3000');
      expect(ok.headers.get('access-control-expose-headers')).to.contain('ETag');
      const other = await client(allowed.baseUrl).get('/api/v1/environments', { headers: { origin: 'http://evil.test' } });
      expect(other.headers.get('access-control-allow-origin')).to.equal(null);
    } finally {
      await plain.close();
      await allowed.close();
    }
  });

  it('when bound to loopback, refuses a non-loopback Host with 403 forbidden and serves loopback names', async () => {
    const api = await startTestApi({ app: { loopbackOnly: true } });
    try {
      const port = new URL(api.baseUrl).port;
      const evil = await raw(api.baseUrl, '/api/v1/environments', { host: `rebind.evil.test:${port}` });
      expect(evil.status).to.equal(403);
      expect(evil.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(JSON.parse(evil.body).code).to.equal('forbidden');
      for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost']) {
        expect((await raw(api.baseUrl, '/api/v1/environments', { host })).status, host).to.equal(200);
      }
      expect((await raw(api.baseUrl, '/health', { host: 'evil.test' })).status).to.equal(403);
    } finally {
      await api.close();
    }
  });
});
