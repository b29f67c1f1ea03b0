import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Retention deletes old events by time; without this index every pass scans the whole log,
  // which on SQLite holds the only connection for as long as the scan takes.
  await knex.schema.alterTable('events', (t) => {
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('events', (t) => {
    t.dropIndex(['created_at']);
  });
}
