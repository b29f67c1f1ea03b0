#!/usr/bin/env node
// Part of `npm run build` (run by scripts/openapi-json.mjs, after tsc): bundles the CLI,
// dist/cli/program.js, into dist/bundle/ with esbuild. Node's ESM loader resolving, reading,
// translating and linking ~950 modules one by one was over half of the CPU `mockcloud up` spent
// before its first API answer (docs/performance.md). Dynamic imports stay separate chunks, so a
// CLI command still loads neither the server nor Ink. Kept outside the bundle: native modules,
// packages that read their own files at run time (Swagger UI's assets), Ink/React (the TUI), and
// what only a distributed deployment or another database loads. dist/cli/main.js runs the bundle
// while it is newer than every dist/ file in bundle/inputs.json and the package's package-lock.json.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'bundle');

const EXTERNAL = [
  'better-sqlite3', // native
  'swagger-ui-express', // serves files from its package directory
  'ink', 'react', 'ink-testing-library', // the TUI: ESM with its own assets and loaders, loaded on demand
  'pg', 'pg-native', 'pg-query-stream', 'ioredis', 'amqplib', 'amqp-connection-manager', // distributed mode only
  'yaml', 'undici', // loaded on demand (init files, stale dist/openapi.json)
  'sqlite3', 'mysql', 'mysql2', 'mariadb', 'oracledb', 'tedious', // knex dialects never used here
];

// knex requires each SQL dialect on demand; only SQLite (better-sqlite3) and PostgreSQL are ever
// used here, the others are a third of knex and would only be parsed at every start.
const KNEX_DIALECTS_USED = new Set(['better-sqlite3', 'postgres']);
const onlyOurKnexDialects = {
  name: 'only-our-knex-dialects',
  setup(build) {
    build.onResolve({ filter: /^\.\/[\w-]+$/ }, (args) => {
      if (!args.importer.replaceAll('\\', '/').endsWith('node_modules/knex/lib/dialects/index.js')) return undefined;
      const name = args.path.slice(2);
      return KNEX_DIALECTS_USED.has(name) ? undefined : { path: name, namespace: 'knex-dialect-not-bundled' };
    });
    build.onLoad({ filter: /.*/, namespace: 'knex-dialect-not-bundled' }, (args) => ({
      contents: `throw new Error('mockcloud bundles the knex dialects it uses only, not ${args.path}');`,
      loader: 'js',
    }));
  },
};

export async function bundle() {
  fs.rmSync(out, { recursive: true, force: true });
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    process.stderr.write('bundle: esbuild is not installed; the CLI runs from the dist/ modules\n');
    return;
  }
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { program: 'dist/cli/program.js' },
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // CommonJS code in the bundle calls require() for Node's built-ins and the externals.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    plugins: [onlyOurKnexDialects],
    metafile: true,
    logLevel: 'warning',
  });
  // The server roles' bundle (cli/bundle.ts): one CommonJS file, so that V8 can cache its compiled
  // code; dynamic imports of external packages become require() (all CommonJS-capable on the
  // server's paths; only the TUI's Ink is ES-only, and no server role loads it).
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['dist/cli/program.js'],
    outfile: path.join(out, 'server.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    define: { 'import.meta.url': '__bundleUrl' },
    // A script compiled by vm.Script cannot import() on Node 20 without --experimental-vm-modules.
    supported: { 'dynamic-import': false },
    banner: { js: "var __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [onlyOurKnexDialects],
    logLevel: 'warning',
  });
  // esbuild escapes every non-ASCII character of the code, not those of comments (a few "§", "—").
  // One of them makes Node decode a file into a two-byte string: 20 ms to read server.cjs, and
  // twice its memory. Only comments hold them, so they become "?".
  for (const f of fs.readdirSync(out).filter((f) => /\.c?js$/.test(f))) {
    const text = fs.readFileSync(path.join(out, f), 'utf8');
    if (/[^\x00-\x7f]/.test(text)) fs.writeFileSync(path.join(out, f), text.replace(/[^\x00-\x7f]/g, '?'));
  }
  const inputs = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('dist/')).map((f) => f.slice('dist/'.length));
  // A dependency changed after the bundle was made (npm install <pkg> --ignore-scripts) rewrites the
  // lockfile. The root one, not node_modules/.package-lock.json: an image whose node_modules comes
  // from a production-only install (Dockerfile) has the same root lockfile as the build.
  if (fs.existsSync(path.join(root, 'package-lock.json'))) inputs.push('../package-lock.json');
  fs.writeFileSync(path.join(out, 'inputs.json'), JSON.stringify(inputs));
  try {
    await recordCodeCache();
  } catch (err) {
    fs.rmSync(path.join(out, 'server.cache'), { force: true });
    process.stderr.write(`bundle: no code cache recorded (${err.message}); the server roles run the ES module chunks\n`);
  }
}

/**
 * Runs `mockcloud up --memory` from the server bundle through its first requests, then has it write
 * V8's code cache of everything compiled so far (cli/bundle.ts). Needs the native SQLite module.
 */
async function recordCodeCache() {
  const cache = path.join(out, 'server.cache');
  const child = spawn(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'up', '--memory', '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn'], {
    // Only the defaults: the builder's DATABASE_URL or MOCKCLOUD_* settings must not reach this run.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(MOCKCLOUD_|DATABASE_URL$|AMQP_URL$|REDIS_URL$)/.test(k))), MOCKCLOUD_CODE_CACHE_OUT: cache },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    let stderr = '';
    const url = await new Promise((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        const m = /is up at (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`mockcloud up exited (${code}): ${stderr.trim().split('\n').pop()}`)));
    });
    // What a first client asks: the catalogue, lists, one of each resource read.
    for (const p of ['/api/v1/sizes', '/ready', '/api/v1/environments', '/api/v1/vms', '/api/v1/vms/vm_none', '/api/v1/operations']) await get(`${url}${p}`);
    child.kill('SIGUSR2');
    await exited;
    if (!fs.existsSync(cache)) throw new Error('the recording run wrote no cache');
    fs.writeFileSync(path.join(out, 'server.cache.json'), JSON.stringify({ v8: process.versions.v8 }));
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

const get = (url) =>
  new Promise((resolve, reject) => {
    http.get(url, (res) => res.resume().on('end', resolve)).on('error', reject);
  });

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await bundle();
