import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // With auth off every resource belongs to the one `default` project (SPEC §10).
  await knex('projects').insert({ id: 'default', name: 'default', created_at: new Date().toISOString() });
}

export async function down(knex: Knex): Promise<void> {
  await knex('projects').where({ id: 'default' }).delete();
}
