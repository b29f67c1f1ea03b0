import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Named snapshots of the whole state (POST /admin/snapshots): kept in the database so every
  // replica can restore them; the document is the same JSON that GET /admin/state answers.
  await knex.schema.createTable('state_snapshots', (t) => {
    t.string('name', 63).primary();
    t.text('document').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.integer('resources').notNullable();
    t.string('created_at', 30).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('state_snapshots');
}
