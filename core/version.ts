import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from './paths.js';

/** mockcloud's own version (package.json), as `GET /health` reports it and `mockcloud status` shows. */
export const VERSION: string = (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
