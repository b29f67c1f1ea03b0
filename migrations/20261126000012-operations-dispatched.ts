import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // dispatched_ms: when the reconciler last re-dispatched an unclaimed operation: a pending operation waiting in a
  // healthy queue backlog must not be re-published on every pass (each copy costs a claim attempt).
  await knex.schema.alterTable('operations', (t) => {
    t.bigInteger('dispatched_ms');
    // Lease renewal touches only the renewing worker's rows; without this it scans the table and
    // waits on rows other workers are updating.
    t.index(['lease_owner']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('operations', (t) => {
    t.dropIndex(['lease_owner']);
    t.dropColumn('dispatched_ms');
  });
}
