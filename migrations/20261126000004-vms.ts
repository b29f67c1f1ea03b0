import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('vms', (t) => {
    t.string('id', 40).primary();
    t.string('project_id', 40).notNullable().references('projects.id');
    t.string('environment_id', 40).notNullable().references('environments.id');
    t.string('name', 63).notNullable();
    t.string('size', 16).notNullable();
    t.string('image', 63).notNullable();
    t.string('private_ip', 15).notNullable();
    t.string('status', 20).notNullable();
    t.integer('progress').notNullable().defaultTo(0);
    t.string('operation_id', 40);
    t.string('error_code', 63);
    t.text('error_message');
    t.text('tags').notNullable();
    t.string('created_at', 30).notNullable();
    t.string('updated_at', 30).notNullable();
    t.unique(['environment_id', 'name']);
    // The database, not luck, keeps addresses unique under concurrent creates.
    t.unique(['environment_id', 'private_ip']);
    t.index(['project_id', 'created_at', 'id']);
  });
  // A join table rather than JSON so "is this group in use?" is an indexed lookup.
  await knex.schema.createTable('vm_security_groups', (t) => {
    t.string('vm_id', 40).notNullable().references('vms.id').onDelete('CASCADE');
    t.string('security_group_id', 40).notNullable().references('security_groups.id');
    t.integer('position').notNullable();
    t.primary(['vm_id', 'security_group_id']);
    t.index(['security_group_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('vm_security_groups');
  await knex.schema.dropTable('vms');
}
