import type { Q } from '../db.js';
import type { MembershipRow, ProjectRow, TokenRow, UserRow } from './schema.js';

// Flat reads and writes of the identity tables; `db` (knex or a transaction) first, no HTTP.

export const projectById = async (db: Q, id: string) => (await db<ProjectRow>('projects').where({ id }).first()) as ProjectRow | undefined;

export const userById = async (db: Q, id: string) => (await db<UserRow>('users').where({ id }).first()) as UserRow | undefined;

export const membership = async (db: Q, projectId: string, userId: string) =>
  (await db<MembershipRow>('memberships').where({ project_id: projectId, user_id: userId }).first()) as MembershipRow | undefined;

export const tokenByHash = async (db: Q, hash: string) => (await db<TokenRow>('api_tokens').where({ secret_hash: hash }).first()) as TokenRow | undefined;

export const tokenById = async (db: Q, id: string) => (await db<TokenRow>('api_tokens').where({ id }).first()) as TokenRow | undefined;

export const membersOf = (db: Q, projectId: string) =>
  db('memberships')
    .join('users', 'users.id', 'memberships.user_id')
    .where('memberships.project_id', projectId)
    .orderBy([{ column: 'memberships.created_at' }, { column: 'memberships.user_id' }])
    .select('memberships.*', 'users.name as user_name') as Promise<(MembershipRow & { user_name: string })[]>;

/** Whether a project still holds anything: it cannot be deleted then. */
export async function projectHolds(db: Q, projectId: string): Promise<{ id: string; type: string }[]> {
  const rows = (await db('environments').where({ project_id: projectId }).limit(20).select('id')) as { id: string }[];
  return rows.map((r) => ({ id: r.id, type: 'environment' }));
}
