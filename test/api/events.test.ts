import net from 'node:net';
import { expect } from 'chai';
import { isPostgres, type Db } from '../../core/db.js';
import { announceEvents, appendEvents } from '../../core/events/event-log.js';
import { pruneEvents } from '../../core/events/queries.js';
import { client, uniq, type Client } from '../support/http.js';
import { openSse } from '../support/sse.js';
import { startApiWithEnvironment, startTestApi, type TestApi } from '../support/stack.js';
import { settle, sleep, waitFor } from '../support/wait.js';

/** Asks for a stream on a raw socket; the caller decides when the client leaves. */
function rawStream(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<net.Socket> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      const head = Object.entries({ host: u.host, accept: 'text/event-stream', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      sock.write(`GET ${path} HTTP/1.1\r\n${head}\r\n`, () => resolve(sock));
    });
    sock.on('error', reject);
  });
}

/**
 * Holds event-log reads until released: SQLite's only connection, or on PostgreSQL a lock on the
 * retention mark every stream reads as it opens. Streams admitted meanwhile stay "opening".
 */
async function holdEventReads(db: Db): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let held!: () => void;
  const holding = new Promise<void>((r) => (held = r));
  const done = db.transaction(async (trx) => {
    if (isPostgres(trx)) await trx.raw('lock table events_retention in access exclusive mode');
    held();
    await released;
  });
  await holding;
  return async () => {
    release();
    await done;
  };
}

describe('api: live events (SSE)', () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  before(async () => {
    ({ api, http, envId } = await startApiWithEnvironment({ timeScale: 0.01, failureRate: 0 }));
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

  it('frees every stream whose client leaves while it opens: 200 early closes leave 0 open streams', async () => {
    const paths = ['/api/v1/events', `/api/v1/events?environment_id=${envId}`, '/api/v1/events?last_event_id=0', `/api/v1/events?resource_id=${envId}&kind=vm`];
    // Deterministically "while it opens": the streams' first read waits on the held database.
    const release = await holdEventReads(api.db);
    let sockets: net.Socket[] = [];
    try {
      sockets = await Promise.all(Array.from({ length: 200 }, (_, i) => rawStream(api.baseUrl, paths[i % paths.length]!, { 'last-event-id': String(i) })));
      await waitFor('all 200 streams to be opening', async () => api.services.events.size === 200);
      for (const sock of sockets) sock.destroy();
      await waitFor('every stream to be freed while its first read still waits', async () => api.services.events.size === 0);
    } finally {
      for (const sock of sockets) sock.destroy();
      await release();
    }
    // And clients that leave at any other moment of the opening.
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const sock = await rawStream(api.baseUrl, paths[i % paths.length]!, i % 2 ? { 'last-event-id': '1' } : {});
        if (i % 3 === 0) sock.destroy();
        else setTimeout(() => sock.destroy(), i % 7);
        await new Promise((r) => sock.once('close', r));
      }),
    );
    await waitFor('every early-closed stream to be freed', async () => api.services.events.size === 0);
    // Nobody is listening: the process has stopped reading the log.
    await waitFor('the tail reader to stop', async () => !api.services.events.stats().reading);
    const sse = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}`);
    try {
      await waitFor('a stream opened after them', async () => sse.status === 200);
      // The server may still be reading the last early requests off their sockets; they go too.
      await waitFor('only the new stream to be open', async () => api.services.events.size === 1);
      const vm = await createVm();
      await waitFor('its events', async () => sse.events.some((e) => e.data.resource_id === vm.body.id));
    } finally {
      await sse.close();
    }
    await waitFor('the last stream to be freed', async () => api.services.events.size === 0);
  });

  it('never shows another project’s events, live or on resume', async () => {
    const before = (await api.db('events').max({ m: 'seq' }).first()) as { m: number | string | null };
    const sse = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}`);
    try {
      await waitFor('the stream to open', async () => sse.status === 200);
      const foreign = uniq('vm');
      await api.db.transaction((trx) => appendEvents(trx, [{ projectId: 'someone-else', type: 'vm.status', resourceType: 'vm', resourceId: foreign, environmentId: envId, data: { id: foreign } }]));
      announceEvents(api.bus);
      const vm = await createVm();
      await waitFor('our own event after theirs', async () => sse.events.some((e) => e.data.resource_id === vm.body.id));
      expect(sse.events.some((e) => e.data.resource_id === foreign)).to.equal(false);
      const resumed = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}`, { 'last-event-id': String(Number(before.m ?? 0)) });
      try {
        await waitFor('the resumed stream to reach our event', async () => resumed.events.some((e) => e.data.resource_id === vm.body.id));
        expect(resumed.events.some((e) => e.data.resource_id === foreign)).to.equal(false);
      } finally {
        await resumed.close();
      }
    } finally {
      await sse.close();
    }
  });

  it('refuses a Last-Event-ID that is not a sequence number with 400', async () => {
    const r = await http.get('/api/v1/events', { headers: { 'last-event-id': 'yesterday' } });
    expect(r.status).to.equal(400);
    expect(r.body.code).to.equal('validation_failed');
  });

  // Last in this file: pruning raises the retention mark for everything that runs after it.
  it('sends a reset event when Last-Event-ID is older than retention, then goes on live', async () => {
    const resource = uniq('vm');
    const old = new Date(Date.now() - 3 * 24 * 3600_000).toISOString();
    await api.db('events').insert(Array.from({ length: 3 }, () => ({ project_id: 'default', type: 'vm.status', resource_type: 'vm', resource_id: resource, environment_id: envId, data: '{}', created_at: old })));
    const gone = (await api.db('events').where({ resource_id: resource }).orderBy('seq').select('seq')).map((r: { seq: number }) => Number(r.seq));
    await pruneEvents(api.db, new Date(Date.now() - 24 * 3600_000).toISOString());
    const sse = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}`, { 'last-event-id': String(gone[0]) });
    try {
      await waitFor('the reset', async () => sse.events.length > 0);
      const reset = sse.events[0]!;
      expect(reset.event).to.equal('reset');
      expect(reset.data).to.include({ type: 'reset', reason: 'expired', last_event_id: gone[0] });
      expect(reset.data.pruned_through).to.be.at.least(gone.at(-1)!);
      expect(reset.data.resume_after).to.be.at.least(reset.data.pruned_through);
      expect(reset.id).to.equal(String(reset.data.resume_after));
      expect(reset.data.detail).to.be.a('string');
      const vm = await createVm();
      await waitFor('live events after the reset', async () => sse.events.some((e) => e.data.resource_id === vm.body.id));
      expect(sse.events.slice(1).every((e) => Number(e.id) > reset.data.resume_after)).to.equal(true);

      // Resuming from the reset's id is gap-free: no second reset.
      const again = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}`, { 'last-event-id': reset.id! });
      try {
        await waitFor('the resumed stream to reach the VM', async () => again.events.some((e) => e.data.resource_id === vm.body.id));
        expect(again.events.some((e) => e.event === 'reset')).to.equal(false);
      } finally {
        await again.close();
      }
    } finally {
      await sse.close();
    }
  });

  it('sends a reset event when Last-Event-ID is beyond the newest event, then goes on live', async () => {
    const sse = openSse(`${api.baseUrl}/api/v1/events?environment_id=${envId}&last_event_id=999999999999999`);
    try {
      await waitFor('the reset', async () => sse.events.length > 0);
      const reset = sse.events[0]!;
      expect(reset.event).to.equal('reset');
      expect(reset.data).to.include({ reason: 'ahead', last_event_id: 999999999999999 });
      const newest = (await api.db('events').max({ m: 'seq' }).first()) as { m: number | string };
      expect(reset.data.resume_after).to.be.at.most(Number(newest.m));
      const vm = await createVm();
      await waitFor('live events after the reset', async () => sse.events.some((e) => e.data.resource_id === vm.body.id));
    } finally {
      await sse.close();
    }
  });
});

describe('api: live events — the per-process stream cap', () => {
  let api: TestApi;
  let http: Client;
  before(async () => {
    api = await startTestApi({ maxStreams: 2 });
    http = client(api.baseUrl);
  });
  after(() => api.close());

  it('answers 503 unavailable with Retry-After beyond MOCKCLOUD_MAX_STREAMS, and admits again once a stream closes', async () => {
    const a = openSse(`${api.baseUrl}/api/v1/events`);
    const b = openSse(`${api.baseUrl}/api/v1/events?kind=vm`);
    try {
      await waitFor('two streams', async () => a.status === 200 && b.status === 200);
      const refused = await http.get('/api/v1/events');
      expect(refused.status).to.equal(503);
      expect(refused.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(refused.body.code).to.equal('unavailable');
      expect(Number(refused.headers.get('retry-after'))).to.be.above(0);
      expect(api.services.events.size).to.equal(2);
      await a.close();
      await waitFor('the closed stream to be freed', async () => api.services.events.size === 1);
      const c = openSse(`${api.baseUrl}/api/v1/events`);
      try {
        await waitFor('a new stream', async () => c.status === 200);
      } finally {
        await c.close();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('api: live events — a client that stops reading', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi({ app: { streamBufferBytes: 64 * 1024 } });
  });
  after(() => api.close());

  it('leaves the live set instead of buffering every event, and later gets them all, in order, from the log', async function () {
    this.timeout(60_000);
    const reader = openSse(`${api.baseUrl}/api/v1/events?kind=bulk`);
    const stalled = await rawStream(api.baseUrl, '/api/v1/events?kind=bulk');
    try {
      await waitFor('both streams live', async () => api.services.events.stats().live === 2);
      // ~6 MB of events, far beyond what the kernel buffers for a client that does not read.
      const pad = 'x'.repeat(2048);
      const total = 3000;
      for (let i = 0; i < total; i += 500) {
        await api.db.transaction((trx) =>
          appendEvents(trx, Array.from({ length: 500 }, (_, j) => ({ projectId: 'default', type: 'bulk.test', resourceType: 'bulk', resourceId: `b-${i + j}`, kind: 'bulk', data: { n: i + j, pad } }))),
        );
        announceEvents(api.bus);
      }
      await waitFor('the reading client to get every event', async () => reader.events.length >= total, 30_000);
      // The stalled client is still connected, but no longer live: what it has not taken stays in the log.
      expect(api.services.events.stats()).to.include({ open: 2, live: 1 });
      expect(reader.events.map((e) => (e.data as { data: { n: number } }).data.n)).to.deep.equal(Array.from({ length: total }, (_, i) => i));

      // Once it reads again it gets everything, gap-free and once each, and rejoins the live set.
      let text = '';
      stalled.setEncoding('utf8');
      stalled.on('data', (chunk: string) => (text += chunk));
      await waitFor('the stalled client to catch up', async () => (text.match(/^event: bulk\.test$/gm) ?? []).length >= total, 30_000);
      const ns = [...text.matchAll(/"n":(\d+)/g)].map((m) => Number(m[1]));
      expect(ns).to.deep.equal(Array.from({ length: total }, (_, i) => i));
      await waitFor('it to be live again', async () => api.services.events.stats().live === 2);
    } finally {
      stalled.destroy();
      await reader.close();
    }
  });
});
