import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('volumes', (t) => {
    t.string('id', 40).primary();
    t.string('project_id', 40).notNullable().references('projects.id');
    t.string('environment_id', 40).notNullable().references('environments.id');
    t.string('name', 63).notNullable();
    t.integer('size_gb').notNullable();
    t.string('type', 16).notNullable();
    t.string('status', 20).notNullable();
    t.integer('progress').notNullable().defaultTo(0);
    t.string('operation_id', 40);
    t.string('error_code', 63);
    t.text('error_message');
    t.string('vm_id', 40).references('vms.id');
    t.string('device', 16);
    t.text('tags').notNullable();
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
    t.unique(['environment_id', 'name']);
    // Two volumes attaching to one VM at once cannot take the same device.
    t.unique(['vm_id', 'device']);
    t.index(['project_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('volumes');
}
