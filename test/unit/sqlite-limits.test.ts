import { expect } from 'chai';
import { openDb, type Db } from '../../core/db.js';

// SQLite plans a statement again whenever its LIMIT or OFFSET is a bound parameter (core/db.ts,
// literalLimits): on the embedded store they are written into the SQL, inside transactions too.
describe('unit: SQLite statements carry their LIMIT and OFFSET as numbers', () => {
  let db: Db;
  before(async () => {
    db = openDb({ sqliteFile: ':memory:' });
    await db.schema.createTable('t', (t) => t.string('id'));
    await db('t').insert([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
  });
  after(() => db.destroy());

  it('writes .first() and .limit().offset() literally, and still binds the values of the query', async () => {
    const first = db('t').where({ id: 'a' }).first().toSQL();
    expect(first.sql).to.match(/ limit 1$/);
    expect(first.bindings).to.deep.equal(['a']);
    expect(await db('t').where({ id: 'a' }).first()).to.deep.equal({ id: 'a' });
    const page = db('t').orderBy('id').limit(2).offset(1).toSQL();
    expect(page.sql).to.match(/ limit 2 offset 1$/);
    expect(page.bindings).to.deep.equal([]);
    expect(await db('t').orderBy('id').limit(2).offset(1)).to.deep.equal([{ id: 'b' }, { id: 'c' }]);
  });

  it('does the same inside a transaction, whose client knex makes afresh', async () => {
    await db.transaction(async (trx) => {
      expect(trx('t').where({ id: 'b' }).first().toSQL().sql).to.match(/ limit 1$/);
      expect(await trx('t').where({ id: 'b' }).first()).to.deep.equal({ id: 'b' });
    });
  });
});
