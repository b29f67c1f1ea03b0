import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { openapiPath, packageRoot } from '../core/paths.js';

/**
 * The parsed contract. `npm run build` writes it as dist/openapi.json (scripts/openapi-json.mjs);
 * when that copy is missing or older than openapi.yaml (an edit without a build) the YAML is parsed
 * here, and only then is the YAML parser loaded: it and the parse were a fifth of start-up.
 */
export function readContract(): object {
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
