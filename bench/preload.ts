import fs from 'node:fs';
import { createRequire } from 'node:module';
import { packageRoot } from './lib.js';

// Experiments for the profile write-up, loaded into a mockcloud process with
// `node --import <dist/bench/preload.js> dist/cli/main.js up …`. They change nothing in the code under
// test; they show what a proposed change to core/ or server/ would gain before anyone makes it.
//   BENCH_SQL_COUNT=<file>  count statements by SQL text, written to <file> at exit
//   BENCH_STMT_CACHE=1      cache better-sqlite3 prepared statements by SQL text (proposal 1; in core/db.ts since 3b7aee2)
//   BENCH_ROUTE_MEMO=1      compile each OpenAPI route's regexp once (proposal 2)

const require = createRequire(`${packageRoot()}/package.json`);

const counts = new Map<string, number>();
if (process.env.BENCH_SQL_COUNT) {
  // Counted when a statement runs, not when it is prepared: since 3b7aee2 core/db.ts caches
  // prepared statements per connection, so `prepare` is called once per distinct SQL text.
  type Statement = { source: string; run(...a: unknown[]): unknown; get(...a: unknown[]): unknown; all(...a: unknown[]): unknown; iterate(...a: unknown[]): unknown };
  const Database = require('better-sqlite3') as new (file: string) => { prepare(sql: string): Statement; close(): void };
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Statement;
  probe.close();
  for (const method of ['run', 'get', 'all', 'iterate'] as const) {
    const original = proto[method];
    proto[method] = function (this: Statement, ...args: unknown[]) {
      counts.set(this.source, (counts.get(this.source) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
}
if (process.env.BENCH_STMT_CACHE) {
  // Since 3b7aee2 core/db.ts does this itself; kept so older builds can still be measured.
  const Database = require('better-sqlite3') as { prototype: { prepare(sql: string): unknown } };
  const prepare = Database.prototype.prepare;
  const caches = new WeakMap<object, Map<string, unknown>>();
  Database.prototype.prepare = function (this: object, sql: string) {
    let cache = caches.get(this);
    if (!cache) caches.set(this, (cache = new Map()));
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = prepare.call(this, sql);
      if (cache.size >= 1000) cache.clear();
      cache.set(sql, stmt);
    }
    return stmt;
  };
}
if (process.env.BENCH_SQL_COUNT) {
  process.once('exit', () => {
    const rows = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([sql, n]) => ({ n, sql }));
    fs.writeFileSync(process.env.BENCH_SQL_COUNT!, JSON.stringify(rows, null, 1));
  });
}

if (process.env.BENCH_ROUTE_MEMO) {
  const validatorRequire = createRequire(require.resolve('express-openapi-validator'));
  const metaRequire = createRequire(validatorRequire.resolve('./middlewares/openapi.metadata'));
  const ptr = metaRequire('path-to-regexp') as { pathToRegexp: (path: string, opts?: object) => unknown };
  const original = ptr.pathToRegexp;
  const memo = new Map<string, unknown>();
  ptr.pathToRegexp = (path: string, opts?: object) => {
    const key = `${path}\0${JSON.stringify(opts ?? {})}`;
    let r = memo.get(key);
    if (!r) memo.set(key, (r = original(path, opts)));
    return r;
  };
}
