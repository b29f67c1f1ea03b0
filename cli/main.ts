#!/usr/bin/env node
import { runCli } from './bundle.js';

// The `mockcloud` command: runs cli/program.ts (the CLI's composition root), from the bundles the build
// makes when they are current (cli/bundle.ts, scripts/bundle.mjs).
await runCli(process.argv[2], process.env);
