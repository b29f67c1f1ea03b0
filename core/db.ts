import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { createRequire } from 'node:module';
import { migrationSource } from '../migrations/index.js';
import { packageRoot } from './paths.js';

export type Db = Knex;
/** A knex instance or a transaction: stores accept either, so callers choose the unit of work. */
export type Q = Knex | Knex.Transaction;

export interface DbTarget {
  /** PostgreSQL connection string; when absent the embedded SQLite store is used. */
  databaseUrl?: string;
  /** SQLite file; ':memory:' keeps nothing. */
  sqliteFile?: string;
}


export const STATEMENT_TIMEOUT_MS = 10_000;

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
      pool: {
        min: 0,
        max: 10,
        afterCreate(conn: import('pg').Client, done: (err: Error | null, conn: import('pg').Client) => void) {
          // No query a request can cause may run longer than this: a hostile filter is cancelled
          // (57014 → 503) instead of burning a backend after the client has gone. SQLite has no such
          // setting; there the contract's caps on filters keep every query small.
          conn.query(`SET statement_timeout = ${STATEMENT_TIMEOUT_MS}`, (err) => done(err ?? null, conn));
        },
      },
    });
  }
  const filename = target.sqliteFile ?? ':memory:';
  if (filename !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  const db = knexFactory({
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
  literalLimits(db);
  return db;
}

interface LimitedBuilder {
  _single: { limit?: unknown; offset?: unknown; skipBinding?: Record<string, boolean> };
}
const LITERAL_LIMITS = Symbol('mockcloud.literalLimits');

/**
 * SQLite (3.53 with STAT4, as in better-sqlite3 12) plans a statement again each time its LIMIT or
 * OFFSET is bound as a parameter: a primary-key read took 5.4 µs with `limit ?` and 1.75 µs with
 * the number in the text, and every `.first()` binds one. knex has parsed both to integers already,
 * so writing them into the SQL is safe, and the statement cache keys on the text. On the dialect's
 * prototype, because knex builds each transaction's client from it.
 */
function literalLimits(db: Db): void {
  const proto = Object.getPrototypeOf(db.client) as { queryCompiler(builder: LimitedBuilder, formatter?: unknown): unknown; [LITERAL_LIMITS]?: true };
  if (proto[LITERAL_LIMITS]) return;
  const compile = proto.queryCompiler;
  proto.queryCompiler = function (this: unknown, builder: LimitedBuilder, formatter?: unknown) {
    const single = builder._single;
    for (const k of ['limit', 'offset'] as const) {
      if (Number.isInteger(single[k])) single.skipBinding = { ...single.skipBinding, [k]: true };
    }
    return compile.call(this, builder, formatter);
  };
  proto[LITERAL_LIMITS] = true;
}

export const isPostgres = (db: Q) => db.client.config.client === 'pg';

/**
 * Applies pending migrations. Safe when several processes start at once on one PostgreSQL: knex
 * takes a lock row, and a process that finds it taken (or loses the race to create the lock table)
 * waits and tries again; by then there is usually nothing left to apply.
 */
export async function migrateLatest(db: Db, attempts = 120): Promise<void> {
  if (!isPostgres(db) && (await applyPreparedSchema(db))) return;
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

/**
 * What the migrations do to an empty SQLite database, recorded by the build (scripts/schema.mjs →
 * dist/schema.sqlite.json): per migration, the DDL knex ran for it, or null when it writes rows
 * (those run their own `up` again, in order); and the DDL of knex's own bookkeeping tables.
 */
export interface PreparedSchema {
  knexTables: string[];
  migrations: { name: string; sql: string[] | null }[];
}

/**
 * A fresh SQLite database (`--memory`, a new data dir) replays the recorded DDL in one transaction
 * instead of knex running its migrator (lock table, listing, schema builder per migration): ~20 ms,
 * a tenth of `up --memory`'s CPU before its first answer. Same tables, indexes, rows and
 * knex_migrations entries (test/unit/prepared-schema.test.ts). Any database that already has a
 * table, a recording made from other migrations, or no recording: knex migrates, step by step.
 */
export async function applyPreparedSchema(db: Db): Promise<boolean> {
  const prepared = readPreparedSchema();
  const names = await migrationSource.getMigrations([]);
  if (!prepared || prepared.migrations.length !== names.length || prepared.migrations.some((m, i) => m.name !== names[i])) return false;
  return db.transaction(async (trx) => {
    const [{ n }] = (await trx.raw("select count(*) as n from sqlite_master where name not like 'sqlite_%'")) as { n: number }[];
    if (n > 0) return false;
    for (const sql of prepared.knexTables) await trx.raw(sql);
    for (const m of prepared.migrations) {
      if (m.sql) for (const sql of m.sql) await trx.raw(sql);
      else await (await migrationSource.getMigration(m.name)).up(trx);
    }
    await trx('knex_migrations').insert(names.map((name) => ({ name, batch: 1, migration_time: new Date() })));
    await trx('knex_migrations_lock').insert({ is_locked: 0 });
    return true;
  });
}

/** The build's recording, unless a compiled migration (or this module) is newer than it. */
export function readPreparedSchema(): PreparedSchema | undefined {
  const dist = path.join(packageRoot(), 'dist');
  try {
    const file = path.join(dist, 'schema.sqlite.json');
    const made = fs.statSync(file).mtimeMs;
    const sources = [path.join(dist, 'core', 'db.js'), ...fs.readdirSync(path.join(dist, 'migrations')).filter((f) => f.endsWith('.js')).map((f) => path.join(dist, 'migrations', f))];
    if (sources.some((f) => fs.statSync(f).mtimeMs > made)) return undefined;
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PreparedSchema;
  } catch {
    return undefined;
  }
}

/**
 * Build time: applies each migration to an empty SQLite database and records what it ran. A
 * migration that wrote rows (or bound values) is recorded as null: it runs itself at start-up.
 */
export async function recordSchema(): Promise<PreparedSchema> {
  const db = openDb({ sqliteFile: ':memory:' });
  try {
    const ran: { sql: string; bindings: unknown[] }[] = [];
    db.on('query', (q: { sql: string; bindings?: unknown[] }) => ran.push({ sql: q.sql, bindings: q.bindings ?? [] }));
    const changes = async () => ((await db.raw('select total_changes() as n')) as { n: number }[])[0]!.n;
    const migrations: PreparedSchema['migrations'] = [];
    for (const name of await migrationSource.getMigrations([])) {
      const before = await changes();
      ran.length = 0;
      await (await migrationSource.getMigration(name)).up(db);
      const statements = ran.filter((q) => !/^\s*select\b/i.test(q.sql));
      const writes = (await changes()) !== before || statements.some((q) => q.bindings.length > 0 || /^\s*(insert|update|delete|replace)\b/i.test(q.sql));
      migrations.push({ name, sql: writes ? null : statements.map((q) => q.sql) });
    }
    // knex's bookkeeping tables, as its migrator creates them.
    const fresh = openDb({ sqliteFile: ':memory:' });
    try {
      await fresh.migrate.list({ migrationSource });
      const rows = (await fresh.raw("select sql from sqlite_master where sql is not null and name not like 'sqlite_%' order by rowid")) as { sql: string }[];
      return { knexTables: rows.map((r) => r.sql), migrations };
    } finally {
      await fresh.destroy();
    }
  } finally {
    await db.destroy();
  }
}

/** True when every known migration has been applied (used by /ready). */
export async function migrationsCurrent(db: Db): Promise<boolean> {
  const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], unknown[]];
  return pending.length === 0;
}

export { isUniqueViolation } from './db-errors.js';

/**
 * Row locks for read-check-write: on PostgreSQL the row read is locked until the transaction ends,
 * so a concurrent writer waits and then sees the committed result. SQLite runs one transaction at a
 * time on its single connection, so there the lock is unnecessary (and knex has no syntax for it).
 * `share` keeps a row from being changed or deleted while we rely on it (e.g. the environment a VM
 * is created in); `update` serialises writers of the row itself.
 */
export type Lock = 'share' | 'update';

export function locked<B extends Knex.QueryBuilder>(db: Q, query: B, lock: Lock | undefined): B {
  if (!lock || !isPostgres(db)) return query;
  // FOR NO KEY UPDATE rather than FOR UPDATE: it still serialises writers, but does not block
  // inserts elsewhere whose foreign keys point at this row.
  return (lock === 'update' ? query.forNoKeyUpdate() : query.forShare()) as B;
}

export const nowIso = () => new Date().toISOString();
