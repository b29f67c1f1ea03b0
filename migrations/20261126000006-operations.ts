import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('operations', (t) => {
    t.string('id', 40).primary();
    t.string('project_id', 40).notNullable().references('projects.id');
    t.string('kind', 32).notNullable();
    t.string('resource_type', 16).notNullable();
    t.string('resource_id', 40).notNullable();
    t.string('environment_id', 40).notNullable();
    t.string('status', 16).notNullable();
    t.integer('progress').notNullable().defaultTo(0);
    t.text('message').notNullable();
    t.string('error_code', 63);
    t.text('error_message');
    // JSON: what the operation acts on (attach target, new size) — fixed at submission.
    t.text('params').notNullable();
    // JSON: the simulated timeline (duration, outcome, phases), fixed when it is first planned so
    // a worker that takes over after a crash continues the same story instead of re-rolling it.
    t.text('plan');
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
    t.string('started_at', 30);
    t.string('finished_at', 30);
    t.bigInteger('started_ms');
    // Lease: the worker that owns the operation and until when. An expired lease is taken over.
    t.string('lease_owner', 64);
    t.bigInteger('lease_expires_ms');
    t.integer('attempts').notNullable().defaultTo(0);
    t.index(['project_id', 'created_at', 'id']);
    t.index(['resource_id']);
    t.index(['status', 'lease_expires_ms']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('operations');
}
