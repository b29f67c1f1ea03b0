import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { Q } from '../db.js';
import { readRows } from '../sqlite-fast-path.js';
import { AppError } from '../errors.js';

// Keyset pagination on (created_at, id): stable under concurrent inserts and O(limit) at any depth.
// The token is opaque to clients and carries a keyed MAC, so a tampered or transplanted one is a 400.

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export interface Cursor {
  c: string; // created_at of the last item
  i: string; // id of the last item
}

/**
 * What a page token is valid for: the list it came from. A token replayed against another
 * collection, other filters or another project is refused (400 invalid_page_token), so a cursor can
 * never be moved across tenants or turned into a different query.
 */
export interface TokenScope {
  collection: string;
  projectId: string;
  filters: Record<string, unknown>;
}

/**
 * Page tokens carry a keyed MAC (HMAC-SHA256) over the cursor and its scope. The key is the
 * deployment's, stored in the database (`server_secrets`) so every replica accepts the tokens of
 * every other, and nobody without it can forge one.
 */
export class PageTokens {
  constructor(private readonly key: Buffer) {}

  /** The deployment's key: created by the first process that needs it, read by all the others. */
  static async load(db: Q): Promise<PageTokens> {
    const name = 'page_token_key';
    const read = async () => ((await db('server_secrets').where({ name }).first('value')) as { value: string } | undefined)?.value;
    let value = await read();
    if (!value) {
      await db('server_secrets').insert({ name, value: randomBytes(32).toString('base64'), created_at: new Date().toISOString() }).onConflict('name').ignore();
      value = (await read())!;
    }
    return new PageTokens(Buffer.from(value, 'base64'));
  }

  private mac(payload: string, scope: TokenScope): string {
    const filters = Object.keys(scope.filters)
      .sort()
      .filter((k) => scope.filters[k] !== undefined)
      .map((k) => [k, scope.filters[k]]);
    return createHmac('sha256', this.key).update(JSON.stringify([scope.collection, scope.projectId, filters, payload])).digest('base64url').slice(0, 22);
  }

  encode(cursor: Cursor, scope: TokenScope): string {
    const payload = Buffer.from(JSON.stringify(cursor)).toString('base64url');
    return `${payload}.${this.mac(payload, scope)}`;
  }

  decode(token: string, scope: TokenScope): Cursor {
    const bad = () => new AppError('invalid_page_token', 'page_token was not issued by this server for this list and these filters; start again without it');
    const [payload, sum, extra] = token.split('.');
    if (!payload || !sum || extra !== undefined) throw bad();
    const expected = Buffer.from(this.mac(payload, scope));
    const given = Buffer.from(sum);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    try {
      const c = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Cursor>;
      if (typeof c.c !== 'string' || typeof c.i !== 'string') throw bad();
      return { c: c.c, i: c.i };
    } catch {
      throw bad();
    }
  }
}

export const clampLimit = (limit: number | undefined) => Math.min(Math.max(limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT);

export interface Page<T> {
  items: T[];
  next_page_token?: string;
}

/** A page whose items are JSON text already: the bytes JSON.stringify(page) would give. */
export function pageJson(items: string[], nextPageToken: string | undefined): string {
  return `{"items":[${items.join(',')}]${nextPageToken === undefined ? '' : `,"next_page_token":${JSON.stringify(nextPageToken)}`}}`;
}

/**
 * Applies the cursor and limit to a query ordered by (created_at, id) on `table`, fetching one
 * extra row to learn whether another page exists.
 */
export async function paginate<R extends { created_at: string; id: string }>(
  query: Knex.QueryBuilder,
  table: string,
  opts: { limit?: number; pageToken?: string; tokens: PageTokens; scope: TokenScope; /** The query's database: lets the embedded store take its fast path. */ db?: Q },
): Promise<{ rows: R[]; nextPageToken?: string }> {
  const limit = clampLimit(opts.limit);
  if (opts.pageToken) {
    const cur = opts.tokens.decode(opts.pageToken, opts.scope);
    query.where((w) =>
      w.where(`${table}.created_at`, '>', cur.c).orWhere((w2) => w2.where(`${table}.created_at`, cur.c).andWhere(`${table}.id`, '>', cur.i)),
    );
  }
  // The limit is written into the SQL, not bound: SQLite re-plans a statement whose LIMIT is a bound
  // parameter on every execution (see core/vms/relations.ts); a few hundred possible texts, each
  // prepared once.
  query.orderBy([`${table}.created_at`, `${table}.id`]).limit(limit + 1, { skipBinding: true });
  const rows = opts.db ? await readRows<R>(opts.db, query) : ((await query) as R[]);
  if (rows.length <= limit) return { rows };
  rows.length = limit;
  const last = rows[limit - 1]!;
  return { rows, nextPageToken: opts.tokens.encode({ c: last.created_at, i: last.id }, opts.scope) };
}
