import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where openapi.yaml lives), whether running from sources or from dist/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'openapi.yaml'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('openapi.yaml not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const openapiPath = () => path.join(packageRoot(), 'openapi.yaml');
