import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { migrateLatest, openDb, type Db } from '../../core/db.js';
import { InProcessBus, type Bus } from '../../core/events/bus.js';
import { RedisBus } from '../../core/events/redis-bus.js';
import { createApp } from '../../server/app.js';
import { createServices, type Services } from '../../server/services.js';

// Which stack the suites run on. scripts/test.mjs runs every suite once embedded and, in CI or when
// asked, once more on the real PostgreSQL / RabbitMQ / Redis, with a fresh database per run.
export const STACK = process.env.MOCKCLOUD_TEST_STACK === 'distributed' ? 'distributed' : 'embedded';

export interface TestStack {
  db: Db;
  bus: Bus;
  close(): Promise<void>;
}

export async function openTestStack(): Promise<TestStack> {
  if (STACK === 'distributed') {
    const url = process.env.MOCKCLOUD_TEST_DATABASE_URL;
    const redis = process.env.MOCKCLOUD_TEST_REDIS_URL;
    if (!url || !redis) throw new Error('distributed test stack needs MOCKCLOUD_TEST_DATABASE_URL and MOCKCLOUD_TEST_REDIS_URL');
    const db = openDb({ databaseUrl: url });
    await migrateLatest(db);
    const bus = await RedisBus.connect(redis);
    return { db, bus, close: async () => { await bus.close(); await db.destroy(); } };
  }
  const db = openDb({ sqliteFile: ':memory:' });
  await migrateLatest(db);
  const bus = new InProcessBus();
  return { db, bus, close: async () => { await bus.close(); await db.destroy(); } };
}

export interface TestApi extends TestStack {
  baseUrl: string;
  services: Services;
}

/** The API on port 0 with response validation on: any undocumented status or field fails the test. */
export async function startTestApi(): Promise<TestApi> {
  const stack = await openTestStack();
  const services = createServices({ db: stack.db, bus: stack.bus });
  const app = createApp({ services, logger: pino({ level: process.env.MOCKCLOUD_TEST_LOG ?? 'silent' }), validateResponses: true });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    ...stack,
    services,
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await stack.close();
    },
  };
}
