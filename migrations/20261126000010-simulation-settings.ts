import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Run-time simulation settings (PATCH /simulation) live in the database so every server and
  // worker replica sees the same ones. One row; absent means "the start-up configuration".
  await knex.schema.createTable('simulation_settings', (t) => {
    t.integer('id').primary();
    t.text('settings').notNullable();
    t.string('updated_at', 30).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('simulation_settings');
}
