import { expect } from 'chai';
import { client, uniq, type Client } from '../support/http.js';
import { openSse } from '../support/sse.js';
import { startTestApi, type TestApi } from '../support/stack.js';
import { settle, sleep, waitFor } from '../support/wait.js';

describe('api: live events (SSE)', () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  before(async () => {
    api = await startTestApi({ timeScale: 0.01, failureRate: 0 });
    http = client(api.baseUrl);
    envId = (await http.post('/api/v1/environments', { name: uniq('env') })).body.id;
  });
  after(() => api.close());

  const createVm = (extra: Record<string, unknown> = {}) =>
    http.post('/api/v1/vms', { name: uniq('vm'), environment_id: envId, size: 'small', image: 'debian-12', ...extra });

  it('streams progress and state changes of one resource, filtered by resource_id', async () => {
    const noise = await createVm();
    const r = await createVm({ tags: { 'mockcloud:duration': '50' } });
    const sse = openSse(`${api.baseUrl}/api/v1/events?resource_id=${r.body.id}&last_event_id=0`);
    try {
      await waitFor('the succeeded event', async () => sse.events.some((e) => e.event === 'operation.succeeded'));
      expect(sse.status).to.equal(200);
      expect(sse.events.every((e) => e.data.resource_id === r.body.id)).to.equal(true);
      const types = sse.events.map((e) => e.event);
      expect(types).to.include.members(['vm.status', 'operation.progress', 'operation.succeeded']);
      const ids = sse.events.map((e) => Number(e.id));
      expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
      const lastStatus = sse.events.filter((e) => e.event === 'vm.status').at(-1)!;
      await waitFor('vm.status running', async () => sse.events.filter((e) => e.event === 'vm.status').at(-1)!.data.data.status === 'running');
      expect(lastStatus.data.data.id).to.equal(r.body.id);
      expect(noise.status).to.equal(202);
    } finally {
      await sse.close();
    }
  });

  it('filters by kind and by environment', async () => {
    const otherEnv = (await http.post('/api/v1/environments', { name: uniq('env') })).body.id;
    const sse = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}&kind=vm.stop`);
    try {
      await sleep(100);
      const a = await createVm();
      await settle(http, a.body.operation_id);
      const b = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: otherEnv, size: 'small', image: 'debian-12' });
      await settle(http, b.body.operation_id);
      await settle(http, (await http.post(`/api/v1/vms/${b.body.id}/stop`)).body.operation_id);
      await settle(http, (await http.post(`/api/v1/vms/${a.body.id}/stop`)).body.operation_id);
      await waitFor('stop events', async () => sse.events.some((e) => e.event === 'operation.succeeded'));
      expect(sse.events.length).to.be.greaterThan(0);
      for (const e of sse.events) {
        expect(e.data.kind).to.equal('vm.stop');
        expect(e.data.environment_id).to.equal(envId);
      }
    } finally {
      await sse.close();
    }
  });

  it('resumes after a disconnect with Last-Event-ID: no gap, no duplicate', async () => {
    const first = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}`);
    await sleep(100);
    const a = await createVm({ tags: { 'mockcloud:duration': '40' } });
    await waitFor('some events', async () => first.events.length >= 3);
    await first.close();
    const lastSeen = first.events.at(-1)!.id!;
    // More happens while the client is away.
    const b = await createVm({ tags: { 'mockcloud:duration': '20' } });
    await settle(http, a.body.operation_id);
    await settle(http, b.body.operation_id);
    const second = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}`, { 'last-event-id': lastSeen });
    try {
      const expected = (await api.db('events').where({ environment_id: envId }).andWhere('seq', '>', Number(first.events[0]!.id) - 1).orderBy('seq').select('seq')).map(
        (r: { seq: number }) => String(r.seq),
      );
      await waitFor('the resumed stream to catch up', async () => second.events.length >= expected.length - first.events.length);
      const seen = [...first.events, ...second.events].map((e) => e.id);
      expect(seen.slice(0, expected.length)).to.deep.equal(expected);
      expect(new Set(seen).size).to.equal(seen.length);
    } finally {
      await second.close();
    }
  });

  it('refuses a Last-Event-ID that is not a sequence number with 400', async () => {
    const r = await http.get('/api/v1/events', { headers: { 'last-event-id': 'yesterday' } });
    expect(r.status).to.equal(400);
    expect(r.body.code).to.equal('validation_failed');
  });
});
