import type { Knex } from 'knex';

// A resource's progress is its current operation's (read from `operations`); the copies on the
// resource rows were written at create and never read again. Plain ALTER TABLE … DROP COLUMN works
// on both stores (SQLite ≥ 3.35) without knex's SQLite table rebuild, which foreign keys would fight.
const TABLES = ['vms', 'volumes'];

export async function up(knex: Knex): Promise<void> {
  for (const table of TABLES) await knex.raw('ALTER TABLE ?? DROP COLUMN progress', [table]);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of TABLES) await knex.raw('ALTER TABLE ?? ADD COLUMN progress integer NOT NULL DEFAULT 0', [table]);
}
