#!/usr/bin/env node
// The README's test command (`npm test`) lands here after the build. It runs every suite on the
// embedded stack (SQLite, in-process queue and bus). With CI=true, or MOCKCLOUD_TEST_DISTRIBUTED=1,
// it runs them all again on the real PostgreSQL, RabbitMQ and Redis — a fresh database and a fresh
// vhost-free queue namespace per run — and an unreachable service fails the run instead of skipping it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const ci = process.env.CI === 'true' || process.env.CI === '1';
const distributed = ci || process.env.MOCKCLOUD_TEST_DISTRIBUTED === '1';
const pgUrl = process.env.MOCKCLOUD_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const amqpUrl = process.env.MOCKCLOUD_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const redisUrl = process.env.MOCKCLOUD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const extraArgs = process.argv.slice(2);

const totals = { passes: 0, failures: 0, pending: 0 };
let failed = false;

function runMocha(stack, env) {
  const stats = path.join(os.tmpdir(), `mockcloud-test-${process.pid}-${stack}.json`);
  fs.rmSync(stats, { force: true });
  console.log(`\n=== ${stack} stack ===`);
  const r = spawnSync(process.execPath, ['node_modules/mocha/bin/mocha.js', '--reporter', './scripts/reporter.cjs', ...extraArgs], {
    stdio: 'inherit',
    env: { ...process.env, ...env, MOCKCLOUD_TEST_STACK: stack, MOCKCLOUD_TEST_STATS: stats },
  });
  if (fs.existsSync(stats)) {
    const s = JSON.parse(fs.readFileSync(stats, 'utf8'));
    totals.passes += s.passes;
    totals.failures += s.failures;
    totals.pending += s.pending;
    fs.rmSync(stats, { force: true });
  } else {
    totals.failures += 1; // mocha died before reporting: count the run as a failure
  }
  if (r.status !== 0) failed = true;
}

async function withServices(fn) {
  const problems = [];
  const admin = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 5000 });
  const dbName = `mockcloud_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
  try {
    await admin.connect();
    await admin.query(`create database ${dbName}`);
  } catch (e) {
    problems.push(`PostgreSQL at ${pgUrl}: ${e.message}`);
  }
  try {
    const amqp = await import('amqplib');
    const conn = await amqp.connect(amqpUrl, { timeout: 5000 });
    await conn.close();
  } catch (e) {
    problems.push(`RabbitMQ at ${amqpUrl}: ${e.message}`);
  }
  try {
    const { Redis } = await import('ioredis');
    const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: () => null });
    await r.connect();
    await r.ping();
    r.disconnect();
  } catch (e) {
    problems.push(`Redis at ${redisUrl}: ${e.message}`);
  }
  if (problems.length) {
    console.error(`\nThe distributed suites need PostgreSQL, RabbitMQ and Redis, and these are unreachable:\n  ${problems.join('\n  ')}`);
    totals.failures += 1;
    failed = true;
    await admin.end().catch(() => {});
    return;
  }
  const u = new URL(pgUrl);
  u.pathname = `/${dbName}`;
  try {
    await fn({
      MOCKCLOUD_TEST_DATABASE_URL: u.toString(),
      MOCKCLOUD_TEST_AMQP_URL: amqpUrl,
      MOCKCLOUD_TEST_REDIS_URL: redisUrl,
    });
  } finally {
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
    await admin.end().catch(() => {});
  }
}

runMocha('embedded', {});
if (distributed) await withServices(async (env) => runMocha('distributed', env));
else console.log('\n(distributed suites skipped: set MOCKCLOUD_TEST_DISTRIBUTED=1, or CI=true, to run them on PostgreSQL, RabbitMQ and Redis)');

console.log(`\n${totals.passes} passed, ${totals.failures} failed${totals.pending ? `, ${totals.pending} skipped` : ''}`);
process.exit(failed || totals.failures > 0 ? 1 : 0);
