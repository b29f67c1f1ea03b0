import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp } from '../../server/app.js';
import { client, uniq, type Client } from '../support/http.js';
import { startApiWithEnvironment, testLogger, type TestApi } from '../support/stack.js';
import { settle } from '../support/wait.js';

describe('api: Idempotency-Key', () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  before(async () => {
    ({ api, http, envId } = await startApiWithEnvironment({ timeScale: 0.01 }));
  });
  after(() => api.close());

  const key = () => uniq('key');

  it('replays the first status, headers and body for the same key and body, creating nothing new', async () => {
    const k = key();
    const body = { name: uniq('env'), tags: { b: '1', a: '2' } };
    const first = await http.post('/api/v1/environments', body, { headers: { 'idempotency-key': k } });
    const again = await http.post('/api/v1/environments', body, { headers: { 'idempotency-key': k } });
    expect(first.status).to.equal(201);
    expect(again.status).to.equal(201);
    expect(again.text).to.equal(first.text);
    expect(again.headers.get('location')).to.equal(first.headers.get('location'));
    expect(again.headers.get('etag')).to.equal(first.headers.get('etag'));
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    expect(first.headers.get('idempotent-replayed')).to.equal(null);
    expect((await http.get(`/api/v1/environments?name=${body.name}`)).body.items).to.have.length(1);
  });

  it('returns the same VM and operation when a create is retried after a dropped response', async () => {
    const k = key();
    const body = { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12' };
    const first = await http.post('/api/v1/vms', body, { headers: { 'idempotency-key': k } });
    const retry = await http.post('/api/v1/vms', body, { headers: { 'idempotency-key': k } });
    expect(retry.status).to.equal(202);
    expect(retry.body.id).to.equal(first.body.id);
    expect(retry.headers.get('operation-location')).to.equal(first.headers.get('operation-location'));
    expect((await http.get(`/api/v1/vms?name=${body.name}`)).body.items).to.have.length(1);
    await settle(http, first.body.operation_id);
  });

  it('replays errors too: a 409 stays the answer for that key', async () => {
    const name = uniq('env');
    await http.post('/api/v1/environments', { name });
    const k = key();
    const first = await http.post('/api/v1/environments', { name }, { headers: { 'idempotency-key': k } });
    expect(first.status).to.equal(409);
    const again = await http.post('/api/v1/environments', { name }, { headers: { 'idempotency-key': k } });
    expect(again.status).to.equal(409);
    expect(again.body.code).to.equal('already_exists');
    expect(again.text).to.equal(first.text);
  });

  it('refuses the same key with another body with 422 idempotency_key_reused', async () => {
    const k = key();
    await http.post('/api/v1/environments', { name: uniq('env') }, { headers: { 'idempotency-key': k } });
    const r = await http.post('/api/v1/environments', { name: uniq('env') }, { headers: { 'idempotency-key': k } });
    expect(r.status).to.equal(422);
    expect(r.body.code).to.equal('idempotency_key_reused');
  });

  it('refuses a retry while the first request is in flight with 409 and Retry-After', async () => {
    const k = key();
    const body = { name: uniq('env') };
    // The first request is "still running": its record says so.
    const { fingerprint } = await import('../../core/idempotency/store.js');
    await api.db('idempotency_keys').insert({
      project_id: 'default',
      key: k,
      fingerprint: fingerprint('POST', '/api/v1/environments', body),
      state: 'in_flight',
      created_at: new Date().toISOString(),
      expires_ms: Date.now() + 60_000,
    });
    const r = await http.post('/api/v1/environments', body, { headers: { 'idempotency-key': k } });
    expect(r.status).to.equal(409);
    expect(r.body.code).to.equal('idempotency_key_in_flight');
    expect(r.headers.get('retry-after')).to.equal('1');
    expect((await http.get(`/api/v1/environments?name=${body.name}`)).body.items).to.have.length(0);
  });

  it('works on PATCH', async () => {
    const env = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
    const k = key();
    const a = await http.patch(`/api/v1/environments/${env.id}`, { tags: { x: '1' } }, { headers: { 'idempotency-key': k } });
    const b = await http.patch(`/api/v1/environments/${env.id}`, { tags: { x: '1' } }, { headers: { 'idempotency-key': k } });
    expect(b.text).to.equal(a.text);
    expect(b.headers.get('idempotent-replayed')).to.equal('true');
  });

  it('refuses a key longer than 255 characters with 400', async () => {
    const r = await http.post('/api/v1/environments', { name: uniq('env') }, { headers: { 'idempotency-key': 'k'.repeat(256) } });
    expect(r.status).to.equal(400);
  });

  it('holds across API replicas sharing the database', async () => {
    const replica = createApp({ services: api.services, logger: testLogger(), validateResponses: true });
    const server: Server = await new Promise((resolve) => {
      const s = replica.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const other = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const k = key();
      const body = { name: uniq('env') };
      const a = await http.post('/api/v1/environments', body, { headers: { 'idempotency-key': k } });
      const b = await other.post('/api/v1/environments', body, { headers: { 'idempotency-key': k } });
      expect(b.status).to.equal(201);
      expect(b.body.id).to.equal(a.body.id);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
