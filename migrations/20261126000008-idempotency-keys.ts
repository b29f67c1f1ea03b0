import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.string('project_id', 40).notNullable();
    t.string('key', 255).notNullable();
    // sha256 of method, path and body: same key + other request → 422.
    t.string('fingerprint', 64).notNullable();
    t.string('state', 16).notNullable(); // in_flight | done
    t.integer('status');
    t.text('headers');
    t.text('body');
    t.string('created_at', 30).notNullable();
    t.bigInteger('expires_ms').notNullable();
    t.primary(['project_id', 'key']);
    t.index(['expires_ms']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
}
