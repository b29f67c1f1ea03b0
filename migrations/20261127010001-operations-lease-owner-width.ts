import type { Knex } from 'knex';

// A worker's lease owner id starts with its hostname, and a Kubernetes pod name may be 253
// characters: at varchar(64) PostgreSQL refused every claim of such a worker. SQLite does not
// enforce varchar lengths, so only PostgreSQL changes. Owner ids are bounded to well below this
// (worker/runtime.ts `workerId`).
export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.raw('alter table operations alter column lease_owner type varchar(512)');
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client !== 'pg') return;
  await knex.raw('alter table operations alter column lease_owner type varchar(64) using left(lease_owner, 64)');
}
