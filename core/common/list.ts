import type { Knex } from 'knex';
import { locked, type Lock, type Q } from '../db.js';
import { paginate, type PageTokens } from './pagination.js';
import { whereTags, type Tags } from './tags.js';

export interface ListQuery {
  limit?: number;
  pageToken?: string;
  name?: string;
  environmentId?: string;
  status?: string;
  tags?: Tags;
}

/** The one list query every resource shares: project scope, the SPEC §4 filters, keyset paging. */
export async function listRows<R extends { id: string; created_at: string }>(
  db: Q,
  table: string,
  projectId: string,
  q: ListQuery,
  tokens: PageTokens,
  extra?: (query: Knex.QueryBuilder) => void,
): Promise<{ rows: R[]; nextPageToken?: string }> {
  const query = db(table).select(`${table}.*`).where(`${table}.project_id`, projectId);
  if (q.name !== undefined) query.andWhere(`${table}.name`, q.name);
  if (q.environmentId !== undefined) query.andWhere(`${table}.environment_id`, q.environmentId);
  if (q.status !== undefined) query.andWhere(`${table}.status`, q.status);
  whereTags(query, table, q.tags);
  extra?.(query);
  const scope = { collection: table, projectId, filters: { name: q.name, environment_id: q.environmentId, status: q.status, tags: q.tags ? Object.entries(q.tags).sort() : undefined } };
  return paginate<R>(query, table, { limit: q.limit, pageToken: q.pageToken, tokens, scope, db });
}

/** One row of the project; with `lock`, locked until the transaction `db` ends (see core/db.ts). */
export async function getRow<R>(db: Q, table: string, projectId: string, id: string, lock?: Lock): Promise<R | undefined> {
  return (await locked(db, db(table).where({ id, project_id: projectId }).first(), lock)) as R | undefined;
}

export { isForeignKeyViolation } from '../db-errors.js';
