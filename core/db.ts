import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { createRequire } from 'node:module';
import { migrationSource } from '../migrations/index.js';

export type Db = Knex;
/** A knex instance or a transaction: stores accept either, so callers choose the unit of work. */
export type Q = Knex | Knex.Transaction;

export interface DbTarget {
  /** PostgreSQL connection string; when absent the embedded SQLite store is used. */
  databaseUrl?: string;
  /** SQLite file; ':memory:' keeps nothing. */
  sqliteFile?: string;
}


export function openDb(target: DbTarget): Db {
  if (target.databaseUrl) {
    // pg returns int8/bigint as strings to protect precision; our bigints are epoch milliseconds and
    // event sequence numbers, far below 2^53. Loaded here: the embedded mode never needs pg.
    const pg = createRequire(import.meta.url)('pg') as typeof import('pg');
    pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));
    return knexFactory({
      client: 'pg',
      // Bounded waits while PostgreSQL is away: a request gets its 503 in seconds, not after the
      // pool's default minute (a refused connect fails at once anyway).
      connection: { connectionString: target.databaseUrl, connectionTimeoutMillis: 5000 },
      acquireConnectionTimeout: 10_000,
      pool: { min: 0, max: 10 },
    });
  }
  const filename = target.sqliteFile ?? ':memory:';
  if (filename !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    // One connection: better-sqlite3 is synchronous, so more connections add only lock contention,
    // and an in-memory database lives exactly as long as its connection.
    pool: {
      min: 1,
      max: 1,
      idleTimeoutMillis: Number.MAX_SAFE_INTEGER,
      afterCreate(conn: { pragma(s: string): unknown; prepare(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        // knex's better-sqlite3 dialect prepares every statement anew; the same few dozen SQL texts
        // recur, and compiling them was a tenth of the API's CPU (docs/performance.md).
        const prepare = conn.prepare.bind(conn);
        const statements = new Map<string, unknown>();
        conn.prepare = (sql: string) => {
          let stmt = statements.get(sql);
          if (stmt === undefined) {
            if (statements.size >= 1000) statements.clear();
            stmt = prepare(sql);
            statements.set(sql, stmt);
          }
          return stmt;
        };
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        done(null, conn);
      },
    },
  });
}

export const isPostgres = (db: Q) => db.client.config.client === 'pg';

/**
 * Applies pending migrations. Safe when several processes start at once on one PostgreSQL: knex
 * takes a lock row, and a process that finds it taken (or loses the race to create the lock table)
 * waits and tries again; by then there is usually nothing left to apply.
 */
export async function migrateLatest(db: Db, attempts = 120): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await db.migrate.latest({ migrationSource });
      return;
    } catch (err) {
      const msg = String((err as Error).message);
      const contended = /already locked|knex_migrations(_lock)?.*(already exists|duplicate)|duplicate key value/i.test(msg) || (err as { code?: string }).code === '23505';
      if (!contended || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** True when every known migration has been applied (used by /ready). */
export async function migrationsCurrent(db: Db): Promise<boolean> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], unknown[]];
  return pending.length === 0;
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string } | undefined;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export const nowIso = () => new Date().toISOString();
