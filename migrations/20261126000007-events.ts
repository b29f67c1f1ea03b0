import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // The event log: SSE resumes from it by sequence, so Redis / in-process only push "new events".
  await knex.schema.createTable('events', (t) => {
    t.bigIncrements('seq').primary();
    t.string('project_id', 40).notNullable();
    t.string('type', 40).notNullable();
    t.string('resource_type', 16).notNullable();
    t.string('resource_id', 40).notNullable();
    t.string('environment_id', 40);
    t.string('operation_id', 40);
    t.string('kind', 32);
    t.text('data').notNullable();
    t.string('created_at', 30).notNullable();
    t.index(['project_id', 'seq']);
    t.index(['resource_id', 'seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('events');
}
