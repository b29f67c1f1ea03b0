import { expect } from 'chai';
import { migrateLatest, openDb, type Db } from '../../core/db.js';
import { InProcessBus } from '../../core/events/bus.js';
import { inTransaction } from '../../core/events/unit-of-work.js';

describe('unit: units of work sharing a SQLite transaction', () => {
  let db: Db;
  const bus = new InProcessBus();
  beforeEach(async () => {
    db = openDb({ sqliteFile: ':memory:' });
    await migrateLatest(db);
  });
  afterEach(() => db.destroy());

  const event = (name: string) => ({ projectId: 'default', type: 'test.event', resourceType: 'environment', resourceId: name, data: { name } });
  const addEnv = (name: string, fail = false) =>
    inTransaction(db, bus, async (trx, emit) => {
      await trx('environments').insert({ id: `env-${name}`, project_id: 'default', name, cidr: '10.0.0.0/16', status: 'ready', tags: '{}', created_at: 'now', updated_at: 'now' });
      emit(event(name));
      if (fail) throw new Error(`${name} refused`);
      return name;
    });

  it('a unit that fails is rolled back alone; the others started in the same turn commit with their events, in order', async () => {
    const results = await Promise.allSettled([addEnv('a'), addEnv('b', true), addEnv('c'), addEnv('d')]);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).to.equal('b refused');
    expect((await db('environments').orderBy('name').select('name')).map((r) => r.name)).to.deep.equal(['a', 'c', 'd']);
    expect((await db('events').orderBy('seq').select('resource_id')).map((r) => r.resource_id)).to.deep.equal(['a', 'c', 'd']);
  });

  it('a database error in one unit (a duplicate name) leaves the other units of its transaction intact', async () => {
    await addEnv('taken');
    const results = await Promise.allSettled([addEnv('e'), addEnv('taken'), addEnv('f')]);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect((await db('environments').orderBy('name').select('name')).map((r) => r.name)).to.deep.equal(['e', 'f', 'taken']);
  });

  it('a unit on its own runs as before and its error reaches the caller', async () => {
    const err = await addEnv('g', true).catch((e: Error) => e);
    expect((err as Error).message).to.equal('g refused');
    expect(await db('environments').where({ name: 'g' }).first()).to.equal(undefined);
  });
});
