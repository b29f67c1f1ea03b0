import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_events', (t) => {
    t.string('id', 40).primary();
    // No foreign key: the trail outlives a deleted project and never blocks a write it records.
    t.string('project_id', 40).notNullable();
    t.string('actor', 80).notNullable();
    t.string('token_id', 40);
    t.string('operation_id', 80);
    t.string('method', 10).notNullable();
    t.text('path').notNullable();
    t.string('resource_id', 80);
    t.integer('status').notNullable();
    t.string('decision', 16).notNullable(); // allowed | denied | would_deny
    t.text('reason');
    t.string('request_id', 128).notNullable();
    // Named created_at (answered as `at`) so the shared keyset pagination applies.
    t.string('created_at', 30).notNullable();
    t.index(['project_id', 'created_at', 'id']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_events');
}
