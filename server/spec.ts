import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { openapiPath, packageRoot } from '../core/paths.js';
import type { PreparedContract } from './validator.js';

/**
 * The parsed contract. `npm run build` writes it as dist/openapi.json (scripts/openapi-json.mjs);
 * when that copy is missing or older than openapi.yaml (an edit without a build) the YAML is parsed
 * here, and only then is the YAML parser loaded: it and the parse were a fifth of start-up.
 * Parsed once per process and shared: read-only for every caller (the chaos rules, the app, the
 * docs; the validator's run-time loader works on its own clone).
 */
export function readContract(): object {
  return (parsed ??= parseContract());
}

let parsed: object | undefined;

function parseContract(): object {
  const yamlFile = openapiPath();
  const jsonFile = path.join(packageRoot(), 'dist', 'openapi.json');
  try {
    if (fs.statSync(jsonFile).mtimeMs >= fs.statSync(yamlFile).mtimeMs) return JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as object;
  } catch {
    // no build output: parse the YAML below
  }
  const YAML = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return YAML.parse(fs.readFileSync(yamlFile, 'utf8')) as object;
}

/**
 * The contract as the validator prepares it (server/validator.ts prepareContract), written by the
 * build as dist/openapi.validator.json. Undefined — the validator then prepares it at run time —
 * when the file is missing, older than openapi.yaml or the compiled validator, or made by another
 * express-openapi-validator.
 */
export function readPreparedContract(): PreparedContract | undefined {
  const dist = path.join(packageRoot(), 'dist');
  const file = path.join(dist, 'openapi.validator.json');
  try {
    // Older than the contract, or than the code that prepares it (a build with tsc alone): stale.
    const made = fs.statSync(file).mtimeMs;
    if (made < fs.statSync(openapiPath()).mtimeMs || made < fs.statSync(path.join(dist, 'server', 'validator.js')).mtimeMs) return undefined;
    const prepared = JSON.parse(fs.readFileSync(file, 'utf8')) as PreparedContract;
    return prepared.eov === validatorVersion() ? prepared : undefined;
  } catch {
    return undefined;
  }
}

/** The installed express-openapi-validator's version (its package.json). */
export function validatorVersion(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('express-openapi-validator');
  let dir = path.dirname(main);
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}
