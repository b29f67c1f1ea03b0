import { expect } from 'chai';
import { AppError } from '../../core/errors.js';
import { InProcessBus } from '../../core/events/bus.js';
import { announceEvents, appendEvents, type EventRow } from '../../core/events/event-log.js';
import { EventFeed, type FeedFilter, type FeedSink, type ResetNotice } from '../../core/events/feed.js';
import { matches, pruneEvents } from '../../core/events/queries.js';
import { uniq } from '../support/http.js';
import { openTestStack, type TestStack } from '../support/stack.js';
import { sleep, waitFor } from '../support/wait.js';

// The SSE feed on its own, on both stores: one tail reader per process, catch-up of resumed
// streams, retention resets, the cap, and what a stream closed while it opens leaves behind. The
// bus is a private in-process one on both stacks, so the only wake-ups are the ones a test causes
// (the Redis channel is shared with every other mockcloud on this machine).

interface Recorder extends FeedSink {
  rows: EventRow[];
  resets: ResetNotice[];
  opened: number;
  ended: number;
}

function recorder(): Recorder {
  const r: Recorder = {
    rows: [],
    resets: [],
    opened: 0,
    ended: 0,
    open: () => void r.opened++,
    events: (rows) => void r.rows.push(...rows),
    reset: (n) => void r.resets.push(n),
    end: () => void r.ended++,
  };
  return r;
}

describe('integration: event feed (one reader per process)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  const bus = new InProcessBus();
  const feeds: EventFeed[] = [];
  before(async () => {
    stack = await openTestStack();
  });
  afterEach(async () => {
    for (const f of feeds.splice(0)) f.stop();
  });
  after(async () => {
    await bus.close();
    await stack.close();
  });

  const feed = (o: { maxStreams?: number; page?: number; pollMs?: number; coalesceMs?: number } = {}) => {
    // A long poll by default: every read these tests count comes from a wake-up they caused.
    const f = new EventFeed({ db: stack.db, bus, pollMs: 60_000, ...o });
    feeds.push(f);
    return f;
  };

  /** Appends events in one transaction and wakes the readers, as the services and the engine do. */
  const emit = async (projectId: string, items: { resource: string; env?: string; type?: string; kind?: string }[]) => {
    await stack.db.transaction((trx) =>
      appendEvents(
        trx,
        items.map((i) => ({ projectId, type: i.type ?? 'vm.status', resourceType: 'vm', resourceId: i.resource, environmentId: i.env ?? null, kind: i.kind ?? null, data: { at: i.resource } })),
      ),
    );
    announceEvents(bus);
  };

  const projectRows = async (projectId: string, afterSeq = 0): Promise<EventRow[]> =>
    stack.db<EventRow>('events').where('project_id', projectId).andWhere('seq', '>', afterSeq).orderBy('seq');

  /** Counts SELECTs that read the events table while `fn` runs. */
  async function countEventReads(fn: () => Promise<void>): Promise<{ total: number; filtered: number }> {
    const counts = { total: 0, filtered: 0 };
    const listener = (q: { sql: string }) => {
      if (!/^select\b[\s\S]*\bfrom [`"]events[`"]/i.test(q.sql)) return;
      counts.total++;
      if (/[`"](project_id|resource_id|environment_id|kind)[`"]/.test(q.sql)) counts.filtered++;
    };
    stack.db.on('query', listener);
    try {
      await fn();
    } finally {
      stack.db.removeListener('query', listener);
    }
    return counts;
  }

  it('reads the log once per wake-up for all its streams, and hands each only what its filter matches', async () => {
    const projectId = uniq('p');
    const f = feed();
    const [a, b] = [uniq('vm'), uniq('vm')];
    const env = uniq('env');
    const filters: FeedFilter[] = [
      { projectId },
      { projectId, resourceIds: [a] },
      { projectId, resourceIds: [a, b] },
      { projectId, environmentId: env },
      { projectId, kind: 'vm.stop' },
      { projectId, kind: 'operation.progress' },
      { projectId, resourceIds: ['vm-nothing-matches'] },
    ];
    const streams = Array.from({ length: 28 }, (_, i) => ({ filter: filters[i % filters.length]!, sink: recorder() }));
    for (const s of streams) await f.open(s.filter, undefined, s.sink).start();
    expect(f.stats()).to.deep.include({ open: 28, live: 28, reading: true });
    const first = (await projectRows(projectId)).length;

    const wakes = 6;
    const reads = await countEventReads(async () => {
      for (let i = 0; i < wakes; i++) {
        await emit(projectId, [
          { resource: a, env, kind: 'vm.stop', type: 'operation.progress' },
          { resource: b, type: 'vm.status' },
          { resource: uniq('vm'), env },
        ]);
        await waitFor('the wake-up to be delivered', async () => streams[0]!.sink.rows.length === first + 3 * (i + 1));
      }
    });
    // One tail read per wake-up (a wake-up landing mid-read adds at most one more), never one per stream.
    expect(reads.total).to.be.at.most(2 * wakes);
    expect(reads.filtered, 'no stream queries the log on its own once live').to.equal(0);

    const all = await projectRows(projectId);
    for (const s of streams) {
      const expected = all.filter((r) => matches(s.filter, r)).map((r) => r.seq);
      expect(s.sink.rows.map((r) => r.seq), JSON.stringify(s.filter)).to.deep.equal(expected);
    }
    expect(streams.find((s) => s.filter.resourceIds?.[0] === 'vm-nothing-matches')!.sink.rows).to.have.length(0);
  });

  it('batches a burst of wake-ups into a read or two, and still delivers every event', async () => {
    const projectId = uniq('p');
    const f = feed({ coalesceMs: 100 });
    const sink = recorder();
    await f.open({ projectId }, undefined, sink).start();
    await emit(projectId, Array.from({ length: 50 }, () => ({ resource: uniq('vm') })));
    const reads = await countEventReads(async () => {
      for (let i = 0; i < 50; i++) announceEvents(bus);
      await waitFor('all 50 events', async () => sink.rows.length === 50);
      await sleep(250);
    });
    expect(reads.total).to.be.at.most(3);
    expect(sink.rows.map((r) => r.seq)).to.deep.equal((await projectRows(projectId)).map((r) => r.seq));
  });

  it('reads nothing while no stream is open, and stops reading when the last one closes', async () => {
    const projectId = uniq('p');
    const f = feed({ pollMs: 20 });
    const idle = await countEventReads(async () => {
      await emit(projectId, [{ resource: uniq('vm') }]);
      await sleep(200);
    });
    expect(idle.total).to.equal(0);

    const s = f.open({ projectId }, undefined, recorder());
    await s.start();
    expect(f.stats().reading).to.equal(true);
    s.close();
    expect(f.stats()).to.deep.equal({ open: 0, live: 0, reading: false });
    const after = await countEventReads(async () => {
      await emit(projectId, [{ resource: uniq('vm') }]);
      await sleep(200);
    });
    expect(after.total).to.equal(0);
  });

  it('frees a stream closed while it opens: it never opens its sink and nothing keeps reading', async () => {
    const f = feed({ pollMs: 20 });
    const projectId = uniq('p');
    const sinks = Array.from({ length: 50 }, () => recorder());
    const starts: Promise<void>[] = [];
    for (const [i, sink] of sinks.entries()) {
      const s = f.open({ projectId }, i % 2 ? 0 : undefined, sink);
      if (i % 3 === 0) s.close(); // before start
      starts.push(s.start());
      if (i % 3 === 1) s.close(); // during start, before anything was read
      if (i % 3 === 2) queueMicrotask(() => s.close()); // while the first read is in flight
    }
    await Promise.all(starts);
    expect(f.stats()).to.deep.equal({ open: 0, live: 0, reading: false });
    expect(sinks.filter((s) => s.opened)).to.have.length(0);
    await emit(projectId, [{ resource: uniq('vm') }]);
    await sleep(100);
    expect(sinks.every((s) => s.rows.length === 0)).to.equal(true);
  });

  it('catches a resumed stream up while the tail moves, then joins it without gap or duplicate', async () => {
    const projectId = uniq('p');
    const f = feed({ page: 7, pollMs: 50 });
    const resource = uniq('vm');
    await emit(projectId, Array.from({ length: 60 }, () => ({ resource })));
    const base = (await projectRows(projectId))[0]!.seq - 1;
    const live = recorder();
    await f.open({ projectId }, undefined, live).start();
    const liveFrom = (await projectRows(projectId)).at(-1)!.seq;

    const resumed = recorder();
    const filtered = recorder();
    const writing = (async () => {
      for (let i = 0; i < 30; i++) {
        await emit(projectId, [{ resource }, { resource: uniq('vm') }]);
        await sleep(5);
      }
    })();
    await f.open({ projectId }, base, resumed).start();
    await f.open({ projectId, resourceIds: [resource] }, base + 3, filtered).start();
    await writing;
    const all = await projectRows(projectId);
    const wanted = {
      resumed: all.map((r) => r.seq),
      filtered: all.filter((r) => r.seq > base + 3 && r.resource_id === resource).map((r) => r.seq),
      live: all.filter((r) => r.seq > liveFrom).map((r) => r.seq),
    };
    await waitFor('every stream to reach the newest event', async () =>
      resumed.rows.length >= wanted.resumed.length && filtered.rows.length >= wanted.filtered.length && live.rows.length >= wanted.live.length,
    );
    await sleep(100);
    expect(resumed.rows.map((r) => r.seq)).to.deep.equal(wanted.resumed);
    expect(filtered.rows.map((r) => r.seq)).to.deep.equal(wanted.filtered);
    expect(live.rows.map((r) => r.seq)).to.deep.equal(wanted.live);
    expect(resumed.resets).to.have.length(0);
    expect(f.stats()).to.deep.include({ open: 3, live: 3 });
  });

  it('never shows a stream another project’s events, live or while catching up', async () => {
    const [mine, theirs] = [uniq('p'), uniq('p')];
    const f = feed();
    await emit(mine, [{ resource: uniq('vm') }]);
    const base = (await projectRows(mine))[0]!.seq - 1;
    await emit(theirs, [{ resource: uniq('vm') }, { resource: uniq('vm') }]);
    const live = recorder();
    const resumed = recorder();
    await f.open({ projectId: mine }, undefined, live).start();
    await f.open({ projectId: mine }, base, resumed).start();
    await emit(theirs, [{ resource: uniq('vm') }]);
    await emit(mine, [{ resource: uniq('vm') }]);
    await waitFor('both streams to get the second event', async () => live.rows.length === 1 && resumed.rows.length === 2);
    await sleep(50);
    expect([...live.rows, ...resumed.rows].every((r) => r.project_id === mine)).to.equal(true);
    expect(resumed.rows.map((r) => r.seq)).to.deep.equal((await projectRows(mine, base)).map((r) => r.seq));
  });

  it('resets a resume from before retention (expired) or beyond the newest event (ahead), then goes on live', async () => {
    const projectId = uniq('p');
    const f = feed();
    const old = new Date(Date.now() - 3 * 24 * 3600_000).toISOString();
    const resource = uniq('vm');
    await stack.db('events').insert(Array.from({ length: 5 }, () => ({ project_id: projectId, type: 'vm.status', resource_type: 'vm', resource_id: resource, data: '{}', created_at: old })));
    const oldRows = await projectRows(projectId);
    await pruneEvents(stack.db, new Date(Date.now() - 24 * 3600_000).toISOString());
    expect(await projectRows(projectId)).to.have.length(0);
    const prunedThrough = oldRows.at(-1)!.seq;

    const expired = recorder();
    await f.open({ projectId }, oldRows[1]!.seq, expired).start();
    const ahead = recorder();
    await f.open({ projectId }, 10 ** 14, ahead).start();
    const fine = recorder();
    await f.open({ projectId }, prunedThrough, fine).start();
    await waitFor('the expired reset', async () => expired.resets.length === 1);

    expect(expired.resets[0]).to.deep.include({ reason: 'expired', lastEventId: oldRows[1]!.seq });
    expect(expired.resets[0]!.prunedThrough).to.be.at.least(prunedThrough);
    expect(expired.resets[0]!.resumeAfter).to.be.at.least(prunedThrough);
    expect(ahead.resets).to.have.length(1);
    expect(ahead.resets[0]).to.deep.include({ reason: 'ahead', lastEventId: 10 ** 14 });
    expect(ahead.resets[0]!.resumeAfter).to.be.below(10 ** 14);
    await sleep(50);
    expect(fine.resets, 'resuming from the prune mark itself loses nothing').to.have.length(0);

    await emit(projectId, [{ resource }]);
    const [next] = await projectRows(projectId);
    for (const s of [expired, ahead, fine]) {
      await waitFor('the live event after the reset', async () => s.rows.length === 1);
      expect(s.rows[0]!.seq).to.equal(next!.seq);
    }
    expect(expired.rows[0]!.seq).to.be.above(expired.resets[0]!.resumeAfter);
  });

  it('refuses streams beyond its cap with unavailable and a Retry-After, and admits again once one closes', async () => {
    const f = feed({ maxStreams: 2 });
    const projectId = uniq('p');
    const a = f.open({ projectId }, undefined, recorder());
    f.open({ projectId }, undefined, recorder());
    let refused: unknown;
    try {
      f.open({ projectId }, undefined, recorder());
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(AppError);
    expect((refused as AppError).code).to.equal('unavailable');
    expect((refused as AppError).retryAfter).to.be.a('number').and.above(0);
    a.close();
    expect(() => f.open({ projectId }, undefined, recorder())).to.not.throw();
  });

  it('ends every stream on stop and refuses new ones', async () => {
    const f = feed();
    const sinks = [recorder(), recorder()];
    for (const s of sinks) await f.open({ projectId: uniq('p') }, undefined, s).start();
    f.stop();
    expect(sinks.map((s) => s.ended)).to.deep.equal([1, 1]);
    expect(f.stats()).to.deep.equal({ open: 0, live: 0, reading: false });
    expect(() => f.open({ projectId: 'default' }, undefined, recorder())).to.throw(AppError);
  });

  it('opens streams and stops at once even when the bus never answers a subscribe (Redis away)', async () => {
    const silent = { publish: async () => undefined, subscribe: () => new Promise<() => Promise<void>>(() => undefined), close: async () => undefined };
    const f = new EventFeed({ db: stack.db, bus: silent, pollMs: 20 });
    const projectId = uniq('p');
    const sink = recorder();
    await f.open({ projectId }, undefined, sink).start();
    await emit(projectId, [{ resource: uniq('vm') }]);
    await waitFor('the event, through the fallback poll', async () => sink.rows.length === 1);
    f.stop();
    expect(sink.ended).to.equal(1);
    expect(f.stats()).to.deep.equal({ open: 0, live: 0, reading: false });
  });
});
