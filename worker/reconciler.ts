import type { Logger } from 'pino';
import type { Db } from '../core/db.js';
import { pruneEvents } from '../core/events/queries.js';
import { AuditLog } from '../core/identity/audit.js';
import { markDispatched, orphanedOperations } from '../core/operations/queries.js';
import type { Dispatcher } from '../core/operations/submit.js';

// Nothing stays in a transitional state: every few seconds each worker looks for operations nobody
// is working on — never claimed (their message was lost) or whose worker stopped renewing its lease
// (it crashed) — and dispatches them again. Claims are conditional, so duplicates are harmless.

export interface ReconcilerOptions {
  db: Db;
  dispatcher: Dispatcher;
  logger: Logger;
  intervalMs: number;
  pendingGraceMs: number;
  /** Housekeeping: events and idempotency records older than this are dropped. */
  retentionMs: number;
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastPrune = 0;

  constructor(private readonly o: ReconcilerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.runOnce(), this.o.intervalMs);
    this.timer.unref();
  }

  async runOnce(pendingGraceMs = this.o.pendingGraceMs): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const now = Date.now();
      const { ids, unclaimed } = await orphanedOperations(this.o.db, now, pendingGraceMs, 1000);
      // Stamped only once the queue confirmed the publish: a publish lost to a broker restart
      // leaves the operation unstamped, so the next pass tries again instead of a grace period later.
      const confirmed: string[] = [];
      let failed = 0;
      for (let i = 0; i < ids.length; i += 100) {
        const chunk = ids.slice(i, i + 100);
        const results = await Promise.allSettled(chunk.map((id) => this.o.dispatcher.dispatch(id)));
        results.forEach((r, j) => {
          if (r.status === 'rejected') failed++;
          else if (unclaimed.has(chunk[j]!)) confirmed.push(chunk[j]!);
        });
      }
      await markDispatched(this.o.db, confirmed, now);
      if (ids.length) this.o.logger.info({ count: ids.length, unconfirmed: failed }, 're-dispatched orphaned operations');
      if (Date.now() - this.lastPrune > 60_000) {
        this.lastPrune = Date.now();
        await this.prune();
      }
      return ids.length;
    } catch (err) {
      this.o.logger.error({ err }, 'reconciler pass failed');
      return 0;
    } finally {
      this.running = false;
    }
  }

  /**
   * Drops events and idempotency records past their retention, a slice at a time so no single
   * statement holds the database (on SQLite, the only connection) for long.
   */
  async prune(): Promise<number> {
    const cutoff = new Date(Date.now() - this.o.retentionMs).toISOString();
    let removed = await pruneEvents(this.o.db, cutoff);
    await this.o.db('idempotency_keys').where('expires_ms', '<', Date.now()).delete();
    // The audit trail is kept like operations and events (SPEC §10).
    removed += await new AuditLog(this.o.db).prune(cutoff);
    return removed;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
