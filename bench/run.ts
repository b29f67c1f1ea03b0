import fs from 'node:fs';
import os from 'node:os';
import { benchApi } from './api.js';
import { benchAuth } from './auth.js';
import { benchCliExit, benchCliStartup } from './cli-startup.js';
import { benchColdStart } from './cold-start.js';
import { benchEmulator } from './emulator.js';
import { benchInflight } from './inflight.js';
import { benchList } from './list.js';
import { benchProvisioning } from './provisioning.js';
import { benchStreams } from './streams.js';
import { formatTable, log, row, type Row } from './lib.js';

// `npm run bench [name…] [--json file]`: runs the benchmarks (all, or those named) one after the
// other and prints ONE table. Every row is a ratio against a baseline measured in the same run (or,
// where nothing comparable exists, against the target itself, which the row says). Not part of
// `npm test`: numbers on a shared machine are not assertions.

// The table, in order: one entry per benchmark module, each returning its rows. A new row (auth,
// chaos rules, streams…) is a module in bench/ and one line here.
const BENCHES: { name: string; run: () => Promise<Row[]> }[] = [
  { name: 'api', run: () => benchApi() },
  { name: 'auth', run: () => benchAuth() },
  { name: 'provisioning', run: () => benchProvisioning() },
  { name: 'inflight', run: () => benchInflight() },
  { name: 'cold-start', run: () => benchColdStart() },
  { name: 'list', run: () => benchList() },
  // Other requests' p99 with 500 open SSE streams and 5 creates/s, against none (issue 9).
  { name: 'streams', run: () => benchStreams() },
  // Chaos-rule lookup on the hot path and the cost of a reset (issue 14).
  { name: 'emulator', run: () => benchEmulator() },
  // Rows in ms against `node -e 0`, lower is better.
  {
    name: 'cli-startup',
    run: async () =>
      (await benchCliStartup()).map((r) => row({ name: r.name, value: r.value, unit: 'ms', baseline: r.baseline, baselineName: '`node -e 0`', ratio: r.ratio, target: r.target, bound: 'max' })),
  },
  // Time the CLI stays alive after printing: wall time against its own time to first output.
  {
    name: 'cli-exit',
    run: async () =>
      (await benchCliExit()).map((r) => row({ name: r.name, value: r.value, unit: 'ms', baseline: r.baseline, baselineName: 'its time to first output', ratio: r.ratio, target: r.target, bound: 'max' })),
  },
];
const byName = new Map(BENCHES.map((b) => [b.name, b.run]));

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const names = args.filter((a, i) => !a.startsWith('--') && (jsonAt < 0 || i !== jsonAt + 1));
const unknown = names.filter((n) => !byName.has(n));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}\n`);
  process.exit(2);
}

const rows: Row[] = [];
const failures: string[] = [];
const started = Date.now();
for (const name of names.length ? names : BENCHES.map((b) => b.name)) {
  log(`${name}…`);
  const t0 = Date.now();
  try {
    rows.push(...(await byName.get(name)!()));
  } catch (err) {
    failures.push(name);
    log(`${name} failed: ${(err as Error).stack ?? err}`);
  }
  log(`${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

const header = `mockcloud bench — ${new Date().toISOString()} — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GB — ${((Date.now() - started) / 1000).toFixed(0)} s`;
process.stdout.write(`\n${header}\n\n${formatTable(rows)}\n`);
const missed = rows.filter((r) => r.pass === false).length;
process.stdout.write(`\n${rows.filter((r) => r.pass === true).length} met, ${missed} missed${failures.length ? `, ${failures.length} benchmark(s) failed to run: ${failures.join(', ')}` : ''}\n`);
if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify({ header, rows, failures }, null, 2) + '\n');
// Missed targets are findings, not errors; a benchmark that could not run is an error.
process.exit(failures.length ? 1 : 0);
