import { expect } from 'chai';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { applyPreparedSchema, migrateLatest, migrationsCurrent, openDb, readPreparedSchema, recordSchema, type Db } from '../../core/db.js';
import { migrationSource } from '../../migrations/index.js';

// A fresh SQLite database replays the DDL the build recorded (dist/schema.sqlite.json) instead of
// running knex's migrator; it must end up exactly where the migrator leaves it.

/** Everything in a database: its schema objects and every row, timestamps of the run masked. */
async function dump(db: Db) {
  const objects = (await db.raw("select type, name, tbl_name, sql from sqlite_master where name not like 'sqlite_%' order by type, name")) as { type: string; name: string }[];
  const rows: Record<string, unknown[]> = {};
  for (const o of objects.filter((x) => x.type === 'table')) {
    rows[o.name] = ((await db.raw(`select * from \`${o.name}\` order by 1`)) as Record<string, unknown>[]).map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, /(_at|_time)$/.test(k) && v !== null ? typeof v : v])),
    );
  }
  return { objects, rows };
}

const names = () => migrationSource.getMigrations([]);

describe('unit: the SQLite schema prepared at build time', () => {
  it('is written by the build and records the current migrations', async () => {
    const prepared = readPreparedSchema();
    expect(prepared, 'dist/schema.sqlite.json (npm run build)').to.not.equal(undefined);
    expect(prepared!.migrations.map((m) => m.name)).to.deep.equal(await names());
    expect(JSON.parse(JSON.stringify(await recordSchema()))).to.deep.equal(prepared);
  });

  it('is ignored once a migration is compiled again without it (a build with tsc alone)', async () => {
    const compiled = fileURLToPath(new URL('../../migrations/20261126000004-vms.js', import.meta.url));
    const { atime, mtime } = fs.statSync(compiled);
    try {
      fs.utimesSync(compiled, atime, new Date(Date.now() + 60_000));
      expect(readPreparedSchema()).to.equal(undefined);
      const db = openDb({ sqliteFile: ':memory:' });
      try {
        expect(await applyPreparedSchema(db)).to.equal(false);
      } finally {
        await db.destroy();
      }
    } finally {
      fs.utimesSync(compiled, atime, mtime);
    }
    expect(readPreparedSchema()).to.not.equal(undefined);
  });

  it('gives a fresh database what the migrator gives it: tables, indexes, rows, knex_migrations', async () => {
    const fast = openDb({ sqliteFile: ':memory:' });
    const slow = openDb({ sqliteFile: ':memory:' });
    try {
      expect(await applyPreparedSchema(fast), 'the prepared path is taken').to.equal(true);
      await slow.migrate.latest({ migrationSource });
      const [a, b] = [await dump(fast), await dump(slow)];
      expect(a.objects).to.deep.equal(b.objects);
      expect(a.rows).to.deep.equal(b.rows);
      expect(a.rows.projects).to.have.length(1); // the default project, made by its own migration
      expect(await migrationsCurrent(fast)).to.equal(true);
      // and a second start finds nothing to do
      expect(await applyPreparedSchema(fast)).to.equal(false);
      await migrateLatest(fast);
      expect((await dump(fast)).rows).to.deep.equal(a.rows);
    } finally {
      await fast.destroy();
      await slow.destroy();
    }
  });

  it('leaves a database with an older schema to the migrator, step by step', async () => {
    const all = await names();
    const older = { ...migrationSource, getMigrations: async () => all.slice(0, 12) };
    const db = openDb({ sqliteFile: ':memory:' });
    const slow = openDb({ sqliteFile: ':memory:' });
    try {
      await db.migrate.latest({ migrationSource: older });
      expect(await applyPreparedSchema(db)).to.equal(false);
      await migrateLatest(db);
      await slow.migrate.latest({ migrationSource });
      const [a, b] = [await dump(db), await dump(slow)];
      expect(a.objects).to.deep.equal(b.objects);
      // two batches: the older schema's, then the rest
      expect([...new Set((a.rows.knex_migrations as { batch: number }[]).map((r) => r.batch))]).to.deep.equal([1, 2]);
      expect(await migrationsCurrent(db)).to.equal(true);
    } finally {
      await db.destroy();
      await slow.destroy();
    }
  });
});
