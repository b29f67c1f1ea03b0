import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_tokens', (t) => {
    t.string('id', 40).primary();
    t.string('project_id', 40).notNullable().references('projects.id').onDelete('CASCADE');
    // null: a project token the deployment admin made, bounded by the owner role.
    t.string('user_id', 40).references('users.id').onDelete('CASCADE');
    t.string('name', 63).notNullable();
    t.text('scopes').notNullable(); // JSON array
    // sha256 of the secret; the secret itself is shown once and never stored.
    t.string('secret_hash', 64).notNullable().unique();
    t.string('created_by', 40).notNullable();
    t.string('created_at', 30).notNullable();
    t.string('expires_at', 30);
    t.bigInteger('expires_ms');
    t.string('last_used_at', 30);
    t.string('revoked_at', 30);
    t.index(['project_id', 'created_at', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_tokens');
}
