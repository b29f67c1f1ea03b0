import path from 'node:path';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { migrateLatest, openDb } from '../core/db.js';
import { PageTokens } from '../core/common/pagination.js';
import { client, info, isMain, log, percentile, row, runStandalone, startMockcloud, tempDir, type Row } from './lib.js';

// List latency with 100,000 VMs stored: GET /api/v1/vms?limit=100, sequential requests, p99.
// The rows are written straight into a SQLite data dir before `mockcloud up --data-dir` starts,
// mirroring what VmService.create writes (vms row with tags JSON, resource_tags, its vm.create
// operation, two environments since a /16 holds 65,531 VMs). Target p99 ≤ 50 ms; the baseline is the
// target itself. Deep pages (a cursor 90 % of the way in, and following next_page_token) and a
// selective filter are reported beside it.

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const id = (prefix: string) => `${prefix}-${[...randomBytes(16)].map((b) => ALPHABET[b % 36]).join('')}`;

export async function seedVms(dir: string, count: number): Promise<{ cursorAt: (i: number) => { c: string; i: string }; tokens: PageTokens }> {
  const file = path.join(dir, 'mockcloud.db');
  const knex = openDb({ sqliteFile: file });
  await migrateLatest(knex);
  // Page tokens are signed with the data dir's key; the server started on it will accept ours.
  const tokens = await PageTokens.load(knex);
  await knex.destroy();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const base = Date.parse('2026-01-01T00:00:00.000Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  const envs = [0, 1].map((n) => ({ id: id('env'), name: `bench-list-${n}`, cidr: `10.${n}.0.0/16` }));
  const insEnv = db.prepare(`insert into environments (id, project_id, name, cidr, status, tags, created_at, updated_at) values (?, 'default', ?, ?, 'ready', '{}', ?, ?)`);
  const insVm = db.prepare(
    `insert into vms (id, project_id, environment_id, name, size, image, private_ip, status, operation_id, error_code, error_message, tags, created_at, updated_at)
     values (?, 'default', ?, ?, 'small', 'debian-12', ?, 'running', ?, null, null, ?, ?, ?)`,
  );
  const insTag = db.prepare(`insert into resource_tags (resource_id, key, value) values (?, ?, ?)`);
  const insOp = db.prepare(
    `insert into operations (id, project_id, kind, resource_type, resource_id, environment_id, status, progress, message, error_code, error_message, params, plan, created_at, updated_at, started_at, finished_at, started_ms, lease_owner, lease_expires_ms, attempts)
     values (?, 'default', 'vm.create', 'vm', ?, ?, 'succeeded', 100, 'done', null, null, '{}', ?, ?, ?, ?, ?, ?, null, null, 1)`,
  );
  const plan = JSON.stringify({ duration_ms: 45_000, outcome: 'succeed', fail_at: 1, error: null, phases: [{ at: 0, message: 'scheduling' }] });
  const cursors: { c: string; i: string }[] = [];
  db.transaction(() => {
    for (const e of envs) insEnv.run(e.id, e.name, e.cidr, iso(base - 1000), iso(base - 1000));
    for (let i = 0; i < count; i++) {
      const env = envs[i % 2]!;
      const host = Math.floor(i / 2) + 4;
      const ip = `10.${i % 2}.${host >> 8}.${host & 255}`;
      const vmId = id('vm');
      const opId = id('op');
      const created = iso(base + i * 10);
      const finished = iso(base + i * 10 + 45_000);
      const team = `team-${i % 20}`;
      insOp.run(opId, vmId, env.id, plan, created, finished, created, finished, base + i * 10);
      insVm.run(vmId, env.id, `vm-${i}`, ip, opId, JSON.stringify({ team }), created, finished);
      insTag.run(vmId, 'team', team);
      cursors.push({ c: created, i: vmId });
    }
  })();
  db.close();
  // Ids are random, so the order within one created_at is by id: with distinct timestamps it is by index.
  return { cursorAt: (i) => cursors[i]!, tokens };
}

async function timed(fn: () => Promise<void>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function benchList(opts: { count?: number; samples?: number } = {}): Promise<Row[]> {
  const count = opts.count ?? 100_000;
  const samples = opts.samples ?? 300;
  const dir = tempDir('list');
  const t0 = Date.now();
  const { cursorAt, tokens } = await seedVms(dir, count);
  log(`list: seeded ${count} VMs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const mc = await startMockcloud('up', ['--data-dir', dir, '--time-scale', '0']);
  try {
    const api = client(mc.url, 1);
    type Page = { items: unknown[]; next_page_token?: string };
    const first = await api.call<Page>('GET', '/api/v1/vms?limit=100');
    if (first.items.length !== 100 || !first.next_page_token) throw new Error('list did not return a full first page');
    const list = (q: string) => async () => {
      await api.call<Page>('GET', `/api/v1/vms?${q}`);
    };
    await timed(list('limit=100'), 30); // warm
    const firstPage = await timed(list('limit=100'), samples);
    const deepToken = tokens.encode(cursorAt(Math.floor(count * 0.9)), { collection: 'vms', projectId: 'default', filters: {} });
    const deep = await timed(list(`limit=100&page_token=${encodeURIComponent(deepToken)}`), Math.floor(samples / 2));
    // Follow the chain from the start, 50 pages (5,000 VMs).
    const chain: number[] = [];
    let token: string | undefined;
    for (let p = 0; p < 50; p++) {
      const t = performance.now();
      const page: Page = await api.call<Page>('GET', `/api/v1/vms?limit=100${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
      chain.push(performance.now() - t);
      token = page.next_page_token;
      if (!token) break;
    }
    // A selective filter: no VM is in error, so the whole project is scanned for an empty page.
    const filtered = await timed(list('limit=100&status=error'), 20);
    const tagFiltered = await timed(list('limit=100&tags[team]=team-3'), 50);
    await api.close();
    return [
      row({ name: `list GET /vms?limit=100, ${count / 1000}k VMs stored: p99`, value: percentile(firstPage, 99), unit: 'ms', baseline: 50, baselineName: 'the target', target: 1, bound: 'max' }),
      info('  … first page p50', percentile(firstPage, 50), 'ms'),
      info(`  … deep page (cursor at ${Math.floor(count * 0.9)}) p99`, percentile(deep, 99), 'ms'),
      info('  … following next_page_token, 50 pages: p99', percentile(chain, 99), 'ms'),
      info('  … ?status=error (matches none: full scan) p99', percentile(filtered, 99), 'ms'),
      info('  … ?tags[team]=team-3 (5 % match) p99', percentile(tagFiltered, 99), 'ms'),
    ];
  } finally {
    await mc.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runStandalone(() => benchList());
