import type { Knex } from 'knex';
import type { Q } from '../db.js';
import { paginate } from './pagination.js';
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
  extra?: (query: Knex.QueryBuilder) => void,
): Promise<{ rows: R[]; nextPageToken?: string }> {
  const query = db(table).select(`${table}.*`).where(`${table}.project_id`, projectId);
  if (q.name !== undefined) query.andWhere(`${table}.name`, q.name);
  if (q.environmentId !== undefined) query.andWhere(`${table}.environment_id`, q.environmentId);
  if (q.status !== undefined) query.andWhere(`${table}.status`, q.status);
  whereTags(query, table, q.tags);
  extra?.(query);
  return paginate<R>(query, table, { limit: q.limit, pageToken: q.pageToken });
}

export async function getRow<R>(db: Q, table: string, projectId: string, id: string): Promise<R | undefined> {
  return (await db(table).where({ id, project_id: projectId }).first()) as R | undefined;
}

export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string } | undefined;
  return e?.code === '23503' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
