import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

// How dist/cli/main.js runs the CLI from the bundles that `npm run build` makes (scripts/bundle.mjs):
// - dist/bundle/program.js: ES module chunks; a command loads only its chunks (not the server);
// - dist/bundle/server.cjs: the same program as one CommonJS file for the server roles (up, server,
//   worker), compiled with the V8 code cache the build recorded while it answered its first requests
//   (server.cache): parsing and compiling the bundle was then the largest share of `up`'s CPU
//   before its first answer, and Node 20 caches no compiled code for ES modules.
// A bundle runs only while it is newer than every compiled file it was made from, so a build with tsc
// alone never runs stale code.

const dist = fileURLToPath(new URL('../', import.meta.url));
export const bundleDir = path.join(dist, 'bundle');
const SERVER_ROLES = new Set(['up', 'server', 'worker']);

/** True while the bundles are newer than every input listed in bundle/inputs.json. */
export function bundleIsCurrent(): boolean {
  try {
    const built = fs.statSync(path.join(bundleDir, 'program.js')).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(path.join(bundleDir, 'inputs.json'), 'utf8')) as string[];
    return inputs.every((file) => fs.statSync(path.join(dist, file)).mtimeMs <= built);
  } catch {
    return false;
  }
}

export interface CodeCacheInfo {
  /** V8 that made the cache: another one rejects it. */
  v8: string;
}

/** The CommonJS bundle and its code cache, when this role uses them and this V8 made the cache. */
function serverBundle(role: string | undefined, recording: boolean): { file: string; cachedData?: Buffer } | undefined {
  if (!role || !SERVER_ROLES.has(role)) return undefined;
  const file = path.join(bundleDir, 'server.cjs');
  if (!fs.existsSync(file)) return undefined;
  if (recording) return { file };
  try {
    const info = JSON.parse(fs.readFileSync(path.join(bundleDir, 'server.cache.json'), 'utf8')) as CodeCacheInfo;
    // Without its cache the CommonJS file compiles no faster than the ES module chunks.
    if (info.v8 !== process.versions.v8) return undefined;
    return { file, cachedData: fs.readFileSync(path.join(bundleDir, 'server.cache')) };
  } catch {
    return undefined;
  }
}

/** The CommonJS bundle as a script, compiled from `cachedData` when given (test: rejected or not). */
export function compileServerBundle(file: string, cachedData?: Buffer): vm.Script {
  const source = fs.readFileSync(file, 'utf8');
  return new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
}

/**
 * Runs the CLI: from a bundle when current (MOCKCLOUD_NO_BUNDLE=1 forces the modules, e.g. for a
 * --import preload that patches them). MOCKCLOUD_CODE_CACHE_OUT=<file> is the build's recording run:
 * on SIGUSR2 the server bundle's code cache is written there and the process exits.
 */
export async function runCli(role: string | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  if (env.MOCKCLOUD_NO_BUNDLE || !bundleIsCurrent()) {
    await import('./program.js');
    return;
  }
  const recordTo = env.MOCKCLOUD_CODE_CACHE_OUT;
  const server = serverBundle(role, !!recordTo);
  if (!server) {
    await import(new URL('../bundle/program.js', import.meta.url).href);
    return;
  }
  const script = compileServerBundle(server.file, server.cachedData);
  const module = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, createRequire(server.file), module, server.file, path.dirname(server.file));
  if (recordTo) {
    process.once('SIGUSR2', () => {
      fs.writeFileSync(recordTo, script.createCachedData());
      process.exit(0);
    });
  }
}
