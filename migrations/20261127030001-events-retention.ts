import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // How far retention has pruned the event log: every event up to `pruned_through` may be gone.
  // An SSE resume from before it cannot be gap-free and gets a `reset` instead. The oldest seq
  // still in the table cannot tell this apart from sequence gaps left by rolled-back transactions
  // (PostgreSQL), nor survive a log that retention emptied completely. One row, created here, so
  // pruning only ever raises it.
  await knex.schema.createTable('events_retention', (t) => {
    t.integer('id').primary();
    t.bigInteger('pruned_through').notNullable();
  });
  await knex('events_retention').insert({ id: 1, pruned_through: 0 });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('events_retention');
}
