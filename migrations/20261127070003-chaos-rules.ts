import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Chaos rules live in the database so every replica applies the same ones; `matched` and `hits`
  // are counted by conditional updates, so "the first N" holds across replicas.
  await knex.schema.createTable('chaos_rules', (t) => {
    t.string('id', 40).primary();
    t.text('match').notNullable();
    t.text('effect').notNullable();
    t.integer('times');
    t.double('probability');
    t.bigInteger('seed');
    t.integer('matched').notNullable().defaultTo(0);
    t.integer('hits').notNullable().defaultTo(0);
    t.string('created_at', 30).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('chaos_rules');
}
