import os from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { SharedClock } from '../core/clock/clock.js';
import type { Db } from '../core/db.js';
import type { Bus } from '../core/events/bus.js';
import type { WorkQueue } from '../core/queue/queue.js';
import type { OperationRow } from '../core/operations/schema.js';
import { Engine } from './engine.js';
import { Reconciler } from './reconciler.js';

export interface WorkerRuntimeOptions {
  db: Db;
  bus: Bus;
  queue: WorkQueue;
  logger: Logger;
  leaseMs: number;
  /** The only worker there is (embedded SQLite): leases left by a previous run are dead, take them now. */
  sole: boolean;
  onFinished?: (op: OperationRow, status: 'succeeded' | 'failed') => void;
  /** The lease owner id; `workerId()` by default. */
  owner?: string;
  /** The simulated clock; opened here (and closed on stop) when the caller has none to share. */
  clock?: SharedClock;
}

export interface WorkerRuntime {
  owner: string;
  engine: Engine;
  reconciler: Reconciler;
  stop(): Promise<void>;
}

const MAX_HOST_IN_ID = 120;
/** Short against any simulated duration at time scale 1; at 400 creates/s it claims ~6 per statement. */
const CLAIM_WINDOW_MS = 15;

/**
 * A worker's lease owner id: hostname (readable in the operations table), pid, and a random tag.
 * A hostname longer than `MAX_HOST_IN_ID` (Kubernetes pod names reach 253) is cut and suffixed
 * with a hash of the whole, so ids stay distinct and well inside the lease_owner column.
 */
export const workerId = (hostname = os.hostname()) => {
  const host = hostname.length > MAX_HOST_IN_ID ? `${hostname.slice(0, MAX_HOST_IN_ID - 9)}~${createHash('sha256').update(hostname).digest('hex').slice(0, 8)}` : hostname;
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
};

/** Engine + queue consumer + reconciler: what `mockcloud worker` runs, and what `mockcloud up` embeds. */
export async function startWorkerRuntime(o: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const owner = o.owner ?? workerId();
  const clock = o.clock ?? (await SharedClock.open({ db: o.db, bus: o.bus }));
  // The sole embedded worker is handed messages in batches by the in-process queue already.
  const claimWindowMs = o.sole ? 0 : CLAIM_WINDOW_MS;
  const engine = new Engine({ db: o.db, bus: o.bus, owner, logger: o.logger, leaseMs: o.leaseMs, clock, onFinished: o.onFinished, claimWindowMs });
  const reconciler = new Reconciler({
    db: o.db,
    dispatcher: o.queue,
    logger: o.logger,
    intervalMs: Math.min(5000, Math.max(200, Math.floor(o.leaseMs / 2))),
    // A broker that confirmed a publish rarely loses it; a pending operation is usually just
    // waiting its turn in the queue. Re-publish only after a generous wait.
    pendingGraceMs: 30_000,
    retentionMs: 24 * 3600 * 1000,
  });
  engine.start();
  if (o.sole) {
    // After a restart of `mockcloud up` nothing else can be working on these: resume them at once.
    await o.db('operations').whereIn('status', ['pending', 'running']).update({ lease_owner: null, lease_expires_ms: null });
  }
  await o.queue.consume(engine.handle);
  reconciler.start();
  if (o.sole) await reconciler.runOnce(0);
  return {
    owner,
    engine,
    reconciler,
    async stop() {
      reconciler.stop();
      await o.queue.stopConsuming();
      await engine.stop();
      if (!o.clock) await clock.close();
    },
  };
}
