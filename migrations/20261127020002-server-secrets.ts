import type { Knex } from 'knex';

// Keys the deployment generates for itself and every replica must share (the page-token MAC key).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('server_secrets', (t) => {
    t.string('name', 64).primary();
    t.text('value').notNullable();
    t.string('created_at', 32).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('server_secrets');
}
