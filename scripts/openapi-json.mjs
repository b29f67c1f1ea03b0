#!/usr/bin/env node
// Part of `npm run build`: openapi.yaml parsed once into dist/openapi.json, so the server does not
// load a YAML parser and parse 80 KB at every start (a fifth of start-up CPU, docs/performance.md).
// server/spec.ts falls back to the YAML when this file is missing or older than openapi.yaml.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const spec = YAML.parse(fs.readFileSync(path.join(root, 'openapi.yaml'), 'utf8'));
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
fs.writeFileSync(path.join(root, 'dist', 'openapi.json'), JSON.stringify(spec));
