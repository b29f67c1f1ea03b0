#!/usr/bin/env node
import fs from 'node:fs';

// The `mockcloud` command: runs cli/program.ts (the CLI's composition root). `npm run build` also
// bundles it (scripts/bundle.mjs → dist/bundle/): a handful of files instead of ~950 modules through
// Node's ESM loader, which was over half the CPU `mockcloud up` spent before its first answer. The
// bundle runs only while it is newer than every compiled file it was made from, so a build with tsc
// alone, or MOCKCLOUD_NO_BUNDLE=1 (e.g. to patch modules from a --import preload), runs the modules.

const bundle = new URL('../bundle/program.js', import.meta.url);
await import(!process.env.MOCKCLOUD_NO_BUNDLE && bundleIsCurrent() ? bundle.href : './program.js');

function bundleIsCurrent(): boolean {
  try {
    const built = fs.statSync(bundle).mtimeMs;
    const dist = new URL('../', import.meta.url);
    const inputs = JSON.parse(fs.readFileSync(new URL('bundle/inputs.json', dist), 'utf8')) as string[];
    return inputs.every((file) => fs.statSync(new URL(file, dist)).mtimeMs <= built);
  } catch {
    return false;
  }
}
