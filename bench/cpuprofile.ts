import fs from 'node:fs';
import path from 'node:path';
import { isMain, packageRoot } from './lib.js';

// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package.
// `node dist/bench/cpuprofile.js <file.cpuprofile> [top]`

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Summary {
  totalMs: number;
  functions: { name: string; where: string; selfMs: number; share: number }[];
  packages: { name: string; selfMs: number; share: number }[];
}

const short = (url: string) => {
  if (!url) return '(native)';
  const p = url.replace(/^file:\/\//, '');
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) return p.slice(nm + 'node_modules/'.length);
  if (p.startsWith('node:')) return p;
  return path.relative(packageRoot(), p);
};

const packageOf = (url: string) => {
  if (!url) return '(native / gc / idle)';
  if (url.startsWith('node:')) return 'node core';
  const p = url.replace(/^file:\/\//, '');
  const nm = p.lastIndexOf('node_modules/');
  if (nm < 0) return `mockcloud ${path.relative(packageRoot(), p).split(path.sep).slice(0, 2).join('/')}`;
  const rest = p.slice(nm + 'node_modules/'.length).split('/');
  return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
};

export function summarize(file: string, top = 25): Summary {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  // Self time per node from the sample deltas (more exact than hitCount × interval).
  const self = new Map<number, number>();
  const samples = prof.samples ?? [];
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const pkg = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    total += us;
    const where = n.callFrame.url ? `${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { name, where, us: 0 };
    e.us += us;
    fn.set(key, e);
    const p = n.callFrame.url ? packageOf(n.callFrame.url) : ['(garbage collector)', '(program)'].includes(name) ? name : '(native)';
    pkg.set(p, (pkg.get(p) ?? 0) + us);
  }
  const functions = [...fn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((f) => ({ name: f.name, where: f.where, selfMs: f.us / 1000, share: f.us / total }));
  const packages = [...pkg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, us]) => ({ name, selfMs: us / 1000, share: us / total }));
  return { totalMs: total / 1000, functions, packages };
}

export function formatSummary(s: Summary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)} %`;
  return [
    `busy (non-idle) time: ${s.totalMs.toFixed(0)} ms`,
    '',
    'self time by package:',
    ...s.packages.map((p) => `  ${pct(p.share)}  ${p.selfMs.toFixed(0).padStart(7)} ms  ${p.name}`),
    '',
    'top functions by self time:',
    ...s.functions.map((f) => `  ${pct(f.share)}  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}`),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/cpuprofile.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(formatSummary(summarize(file, Number(process.argv[3] ?? 25))) + '\n');
}
