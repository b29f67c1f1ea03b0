import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // The one simulated clock, shared by every replica: simulated time at `anchor_sim_ms` was
  // reached at wall time `anchor_wall_ms`, and runs on at 1 / time_scale unless paused. One row.
  await knex.schema.createTable('simulated_clock', (t) => {
    t.integer('id').primary();
    t.bigInteger('anchor_wall_ms').notNullable();
    t.bigInteger('anchor_sim_ms').notNullable();
    t.double('time_scale').notNullable();
    t.boolean('paused').notNullable().defaultTo(false);
    t.string('updated_at', 30).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('simulated_clock');
}
