#!/usr/bin/env node
// Part of `npm run build` (run by scripts/openapi-json.mjs, after tsc): bundles the CLI,
// dist/cli/program.js, into dist/bundle/ with esbuild. Node's ESM loader resolving, reading,
// translating and linking ~950 modules one by one was over half of the CPU `mockcloud up` spent
// before its first API answer (docs/performance.md). Dynamic imports stay separate chunks, so a
// CLI command still loads neither the server nor Ink. Kept outside the bundle: native modules,
// packages that read their own files at run time (Swagger UI's assets), Ink/React (the TUI), and
// what only a distributed deployment or another database loads. dist/cli/main.js runs the bundle
// while it is newer than every dist/ file in bundle/inputs.json and node_modules/.package-lock.json.
import fs from 'node:fs';
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
  const inputs = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('dist/')).map((f) => f.slice('dist/'.length));
  if (fs.existsSync(path.join(root, 'node_modules', '.package-lock.json'))) inputs.push('../node_modules/.package-lock.json');
  fs.writeFileSync(path.join(out, 'inputs.json'), JSON.stringify(inputs));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await bundle();
