import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('security_groups', (t) => {
    t.string('id', 40).primary();
    t.string('project_id', 40).notNullable().references('projects.id');
    t.string('environment_id', 40).notNullable().references('environments.id');
    t.string('name', 63).notNullable();
    t.text('description');
    // JSON text: rules keep the order given.
    t.text('rules').notNullable();
    t.text('tags').notNullable();
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
    t.unique(['environment_id', 'name']);
    t.index(['project_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('security_groups');
}
