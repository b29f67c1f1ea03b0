import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Tags are stored twice on purpose: as JSON on the resource (echoed exactly, order kept) and here,
  // one row a pair, so ?tags[k]=v is an indexed lookup on both stores without JSON operators.
  await knex.schema.createTable('resource_tags', (t) => {
    t.string('resource_id', 40).notNullable();
    t.string('key', 127).notNullable();
    t.string('value', 255).notNullable();
    t.primary(['resource_id', 'key']);
    t.index(['key', 'value']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('resource_tags');
}
