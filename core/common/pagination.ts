import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { AppError } from '../errors.js';

// Keyset pagination on (created_at, id): stable under concurrent inserts and O(limit) at any depth.
// The token is opaque to clients and carries a checksum so a tampered one is a 400, not a wrong page.

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export interface Cursor {
  c: string; // created_at of the last item
  i: string; // id of the last item
}

const CHECK_SALT = 'mockcloud-page-token-v1';
const checksum = (payload: string) => createHash('sha256').update(CHECK_SALT).update(payload).digest('base64url').slice(0, 12);

export function encodePageToken(cursor: Cursor): string {
  const payload = Buffer.from(JSON.stringify(cursor)).toString('base64url');
  return `${payload}.${checksum(payload)}`;
}

export function decodePageToken(token: string): Cursor {
  const bad = () => new AppError('invalid_page_token', 'page_token is not one this server issued; start again without it');
  const [payload, sum, extra] = token.split('.');
  if (!payload || !sum || extra !== undefined || checksum(payload) !== sum) throw bad();
  try {
    const value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    const c = value as Partial<Cursor>;
    if (typeof c.c !== 'string' || typeof c.i !== 'string') throw bad();
    return { c: c.c, i: c.i };
  } catch {
    throw bad();
  }
}

export const clampLimit = (limit: number | undefined) => Math.min(Math.max(limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT);

export interface Page<T> {
  items: T[];
  next_page_token?: string;
}

/**
 * Applies the cursor and limit to a query ordered by (created_at, id) on `table`, fetching one
 * extra row to learn whether another page exists.
 */
export async function paginate<R extends { created_at: string; id: string }>(
  query: Knex.QueryBuilder,
  table: string,
  opts: { limit?: number; pageToken?: string },
): Promise<{ rows: R[]; nextPageToken?: string }> {
  const limit = clampLimit(opts.limit);
  if (opts.pageToken) {
    const cur = decodePageToken(opts.pageToken);
    query.where((w) =>
      w.where(`${table}.created_at`, '>', cur.c).orWhere((w2) => w2.where(`${table}.created_at`, cur.c).andWhere(`${table}.id`, '>', cur.i)),
    );
  }
  const rows = (await query.orderBy([`${table}.created_at`, `${table}.id`]).limit(limit + 1)) as R[];
  if (rows.length <= limit) return { rows };
  rows.length = limit;
  const last = rows[limit - 1]!;
  return { rows, nextPageToken: encodePageToken({ c: last.created_at, i: last.id }) };
}
