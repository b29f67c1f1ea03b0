import { expect } from 'chai';
import { prunedThrough } from '../../core/events/queries.js';
import { InProcessQueue } from '../../core/queue/queue.js';
import { Reconciler } from '../../worker/reconciler.js';
import { uniq } from '../support/http.js';
import { openTestStack, testLogger, type TestStack } from '../support/stack.js';

describe('integration: retention', function () {
  this.timeout(60_000);
  let stack: TestStack;
  before(async () => {
    stack = await openTestStack();
  });
  after(() => stack.close());

  it('drops events and idempotency records past their retention, in slices, and keeps the rest', async () => {
    const resource = uniq('vm');
    const old = new Date(Date.now() - 2 * 3600_000).toISOString();
    const fresh = new Date().toISOString();
    const row = (created_at: string) => ({ project_id: 'default', type: 'vm.status', resource_type: 'vm', resource_id: resource, data: '{}', created_at });
    const oldRows = Array.from({ length: 12_000 }, () => row(old));
    for (let i = 0; i < oldRows.length; i += 500) await stack.db('events').insert(oldRows.slice(i, i + 500));
    await stack.db('events').insert([row(fresh), row(fresh)]);
    const keep = uniq('key');
    const gone = uniq('key');
    await stack.db('idempotency_keys').insert([
      { project_id: 'default', key: keep, fingerprint: 'x', state: 'done', created_at: fresh, expires_ms: Date.now() + 60_000 },
      { project_id: 'default', key: gone, fingerprint: 'x', state: 'done', created_at: old, expires_ms: Date.now() - 1 },
    ]);
    const reconciler = new Reconciler({ db: stack.db, dispatcher: new InProcessQueue(), logger: testLogger(), intervalMs: 1000, pendingGraceMs: 1000, retentionMs: 3600_000 });
    const newestOld = Number(((await stack.db('events').where({ resource_id: resource, created_at: old }).max({ m: 'seq' }).first()) as { m: number | string }).m);
    const removed = await reconciler.prune();
    expect(removed).to.be.at.least(12_000);
    // The mark SSE resumes are checked against: everything up to it may be gone.
    expect(await prunedThrough(stack.db)).to.be.at.least(newestOld);
    const left = await stack.db('events').where({ resource_id: resource }).select('created_at');
    expect(left.map((r: { created_at: string }) => r.created_at)).to.deep.equal([fresh, fresh]);
    const keys = (await stack.db('idempotency_keys').whereIn('key', [keep, gone]).select('key')).map((r: { key: string }) => r.key);
    expect(keys).to.deep.equal([keep]);
  });

  it('drops audit events past their retention, like operations and events', async () => {
    const old = new Date(Date.now() - 2 * 3600_000).toISOString();
    const fresh = new Date().toISOString();
    const row = (id: string, created_at: string) => ({ id, project_id: 'default', actor: 'admin', method: 'POST', path: '/x', status: 201, decision: 'allowed', request_id: 'r', created_at });
    const gone = uniq('aud');
    const kept = uniq('aud');
    await stack.db('audit_events').insert([row(gone, old), row(kept, fresh)]);
    const reconciler = new Reconciler({ db: stack.db, dispatcher: new InProcessQueue(), logger: testLogger(), intervalMs: 1000, pendingGraceMs: 1000, retentionMs: 3600_000 });
    await reconciler.prune();
    const left = (await stack.db('audit_events').whereIn('id', [gone, kept]).select('id')).map((r: { id: string }) => r.id);
    expect(left).to.deep.equal([kept]);
  });
});
