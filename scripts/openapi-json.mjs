#!/usr/bin/env node
// Part of `npm run build`, after tsc:
// - openapi.yaml parsed once into dist/openapi.json, so the server does not load a YAML parser and
//   parse 80 KB at every start (a fifth of start-up CPU, docs/performance.md);
// - dist/openapi.validator.json: the contract loaded, checked against the OpenAPI meta-schema and
//   preprocessed by express-openapi-validator (server/validator.ts prepareContract), which the
//   server otherwise does before its first API answer (~40 % of the CPU until then);
// - dist/schema.sqlite.json and the CLI bundle (below).
// server/spec.ts falls back to run-time work when these files are missing or older than openapi.yaml.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const spec = YAML.parse(fs.readFileSync(path.join(root, 'openapi.yaml'), 'utf8'));
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
fs.writeFileSync(path.join(root, 'dist', 'openapi.json'), JSON.stringify(spec));

const { prepareContract } = await import('../dist/server/validator.js');
const { validatorVersion } = await import('../dist/server/spec.js');
const prepared = await prepareContract(spec, validatorVersion());
fs.writeFileSync(path.join(root, 'dist', 'openapi.validator.json'), JSON.stringify(prepared));

// What the migrations do to an empty SQLite database (core/db.ts recordSchema): a fresh embedded
// database replays it instead of running knex's migrator.
// Needs the native SQLite module, which a build with --ignore-scripts (the Docker build stage) lacks:
// then fresh databases run the migrator, as without this file.
const schemaFile = path.join(root, 'dist', 'schema.sqlite.json');
try {
  const { recordSchema } = await import('../dist/core/db.js');
  fs.writeFileSync(schemaFile, JSON.stringify(await recordSchema()));
} catch (err) {
  fs.rmSync(schemaFile, { force: true });
  process.stderr.write(`build: no prepared SQLite schema (${err.message}); fresh databases run the migrations\n`);
}

// Last step of the build: the CLI bundle (scripts/bundle.mjs), so that this one command — which is
// what `npm run build` runs after tsc — leaves dist/ complete.
const { bundle } = await import('./bundle.mjs');
await bundle();
