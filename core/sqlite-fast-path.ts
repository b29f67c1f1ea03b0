import type { Knex } from 'knex';
import type { Q } from './db.js';

/** The part of a better-sqlite3 connection the fast path uses. */
export interface SqliteConnection {
  readonly open: boolean;
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatement;
}
export interface SqliteStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

interface Pool {
  numUsed(): number;
  numFree(): number;
  on(event: 'acquireSuccess' | 'destroySuccess', handler: (eventId: number, resource: unknown) => void): void;
}

const tracked = new WeakMap<object, { conn?: SqliteConnection }>();

/**
 * The embedded store's one connection, when nothing holds it at this moment: no query is running
 * and no transaction is open on it. A caller that uses it synchronously (better-sqlite3 is
 * synchronous) therefore reads committed data, and nothing else can interleave: knex's query
 * building, its runner and the pool's acquire/release are a third of a GET's CPU, for one indexed
 * read (docs/performance.md). When the connection is busy — a transaction spans awaits — the caller
 * takes the knex path and waits in the pool's queue like everyone else. PostgreSQL and
 * transactions (`db` a Knex.Transaction) always get undefined.
 *
 * Only tarn's public API is used: the connection is learnt from the pool's `acquireSuccess` event
 * (so it is known after the first knex query, i.e. the migrations), forgotten on `destroySuccess`.
 */
export function idleSqlite(db: Q): SqliteConnection | undefined {
  const client = (db as Knex).client as { driverName?: string; pool?: Pool } | undefined;
  if (!client || client.driverName !== 'better-sqlite3' || (db as Knex.Transaction).isTransaction) return undefined;
  const pool = client.pool;
  if (!pool) return undefined;
  let entry = tracked.get(pool);
  if (!entry) {
    const e: { conn?: SqliteConnection } = {};
    pool.on('acquireSuccess', (_id, resource) => {
      e.conn = resource as SqliteConnection;
    });
    pool.on('destroySuccess', (_id, resource) => {
      if (e.conn === resource) e.conn = undefined;
    });
    tracked.set(pool, (entry = e));
  }
  const conn = entry.conn;
  if (!conn || !conn.open || conn.inTransaction || pool.numUsed() !== 0 || pool.numFree() !== 1) return undefined;
  return conn;
}

/**
 * Runs a SELECT built with knex: on the idle embedded connection directly (the SQL knex compiled,
 * skipping its runner and pool), otherwise through knex. Same rows either way.
 */
export async function readRows<R>(db: Q, query: Knex.QueryBuilder): Promise<R[]> {
  const conn = idleSqlite(db);
  if (!conn) return (await query) as R[];
  const { sql, bindings } = query.toSQL().toNative();
  // As knex's better-sqlite3 dialect binds them (booleans as 0/1, dates as epoch ms).
  const params = bindings.map((b) => (typeof b === 'boolean' ? Number(b) : b instanceof Date ? b.valueOf() : b));
  return conn.prepare(sql).all(...params) as R[];
}
