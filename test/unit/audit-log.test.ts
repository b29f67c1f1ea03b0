import { expect } from 'chai';
import { migrateLatest, openDb, type Db } from '../../core/db.js';
import { AuditLog } from '../../core/identity/audit.js';

const entry = (i: number) => ({
  project_id: 'default',
  actor: 'anonymous',
  token_id: null,
  operation_id: 'createVm',
  method: 'POST',
  path: '/api/v1/vms',
  resource_id: `vm-${i}`,
  status: 202,
  decision: 'allowed' as const,
  reason: null,
  request_id: `req-${i}`,
});

describe('unit: audit trail writes', () => {
  let db: Db;
  beforeEach(async () => {
    db = openDb({ sqliteFile: ':memory:' });
    await migrateLatest(db);
  });
  afterEach(() => db.destroy());

  it('a burst of records all land, each answered only once it is stored', async () => {
    const audit = new AuditLog(db);
    await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        await audit.record(entry(i));
        expect(await db('audit_events').where({ resource_id: `vm-${i}` }).first()).to.include({ request_id: `req-${i}`, status: 202 });
      }),
    );
    expect(Number((await db('audit_events').count({ n: '*' }))[0]!.n)).to.equal(120);
  });

  it('a record that cannot be stored fails alone: the others written with it are kept', async () => {
    const audit = new AuditLog(db);
    const results = await Promise.allSettled([
      ...Array.from({ length: 10 }, (_, i) => audit.record(entry(i))),
      audit.record({ ...entry(99), method: null as unknown as string }), // NOT NULL refuses it
      ...Array.from({ length: 10 }, (_, i) => audit.record(entry(10 + i))),
    ]);
    expect(results.filter((r) => r.status === 'rejected')).to.have.length(1);
    expect(results[10]!.status).to.equal('rejected');
    expect(Number((await db('audit_events').count({ n: '*' }))[0]!.n)).to.equal(20);
  });
});
