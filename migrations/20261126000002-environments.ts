import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('environments', (t) => {
    t.string('id', 40).primary();
    t.string('project_id', 40).notNullable().references('projects.id');
    t.string('name', 63).notNullable();
    t.string('cidr', 18).notNullable();
    t.string('status', 20).notNullable();
    // JSON text: the tags exactly as sent, key order included. resource_tags indexes them for filters.
    t.text('tags').notNullable();
    // ISO-8601 UTC with milliseconds: fixed width, so text order is time order on both stores.
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
    t.unique(['project_id', 'name']);
    t.index(['project_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('environments');
}
