import path from 'node:path';
import type { Config } from '../core/config.js';
import { migrateLatest, openDb } from '../core/db.js';
import { migrationSource } from '../migrations/index.js';
import { CliError } from './errors.js';

// `mockcloud migrate`: applies pending migrations and says to which store and how many, so a first
// run on the wrong store (no DATABASE_URL → a local SQLite file) is visible at once.

/** The store a config points at, as a user would recognise it (never the password). */
export function storeLabel(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'memory'>): string {
  if (config.databaseUrl) {
    const u = new URL(config.databaseUrl);
    return `postgresql ${u.host}${u.pathname}`;
  }
  return config.memory ? 'sqlite (in memory)' : `sqlite ${path.join(config.dataDir, 'mockcloud.db')} (DATABASE_URL is not set)`;
}

export async function migrateStore(config: Config): Promise<string> {
  const db = openDb(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { sqliteFile: path.join(config.dataDir, 'mockcloud.db') });
  try {
    let before: unknown[];
    try {
      [before] = (await db.migrate.list({ migrationSource })) as [unknown[], unknown[]];
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|28P01|3D000)$/.test(code)) {
        throw new CliError(`cannot reach ${storeLabel(config)} (${code}: ${(err as Error).message})`, 'is PostgreSQL running, and is DATABASE_URL right?');
      }
      throw err;
    }
    await migrateLatest(db);
    const [after] = (await db.migrate.list({ migrationSource })) as [unknown[], unknown[]];
    const applied = after.length - before.length;
    const label = storeLabel(config);
    if (applied <= 0) return `${label} is already current (${after.length} migrations)`;
    return `applied ${applied} migration${applied === 1 ? '' : 's'} to ${label}`;
  } finally {
    await db.destroy();
  }
}
