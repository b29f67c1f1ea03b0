import type { Logger } from 'pino';
import type { Db } from '../core/db.js';
import { nowIso } from '../core/db.js';
import type { Clock } from '../core/clock/clock.js';
import type { Bus } from '../core/events/bus.js';
import { announceEvents, appendEvents, type NewEvent } from '../core/events/event-log.js';
import { completeOperations, outcomeOf } from '../core/lifecycle/complete.js';
import { claimOperations, finishOperation, releaseLeases, renewLeases, writeProgress, type ProgressUpdate } from '../core/operations/queries.js';
import { planOf, type OperationRow } from '../core/operations/schema.js';
import { phaseAt, planEndMs, type Plan } from '../core/simulation/plan.js';
import { operationEvent } from '../core/operations/events.js';
import { isDependencyUnavailable } from '../core/unavailable.js';
import { MinHeap } from './heap.js';

// The engine plays operations back. Each claimed operation sits in one timeline (a heap keyed by
// its next wake-up); one timer wakes for the earliest, and everything due is written in batches:
// progress for hundreds of operations per statement, completions in chunked transactions. That is
// how one process carries 10,000 operations in flight at time scale 1.
//
// The timeline is in simulated time (the shared Clock): plans, started_ms and wake-ups are
// simulated milliseconds, converted to a wall-clock timer only when arming. A clock jump, pause or
// change of pace re-arms the timer at once. Leases stay on wall time (Date.now()).

export interface EngineOptions {
  db: Db;
  bus: Bus;
  owner: string;
  logger: Logger;
  leaseMs: number;
  clock: Clock;
  /** Called with each finished operation (metrics). */
  onFinished?: (op: OperationRow, status: 'succeeded' | 'failed') => void;
  /**
   * How long the first message of a quiet spell waits for others to share its claim statement.
   * Messages from RabbitMQ arrive one by one; claimed as they came, a provisioning run made one
   * UPDATE (a round trip and a commit) per operation.
   */
  claimWindowMs?: number;
}

interface Active {
  row: OperationRow;
  plan: Plan;
  startedMs: number;
  endMs: number; // when the plan's outcome takes effect (earlier for a failure)
  progress: number;
  message: string;
  /** Completed in a transaction of its own: a batch it was in failed (see `complete`). */
  solo?: boolean;
  /** Failed completion attempts on its own; at POISON_ATTEMPTS it is failed instead. */
  failures?: number;
}

const MAX_REPORT_GAP_MS = 1000; // SPEC §5: progress at least every second…
const STEP = 0.1; // …or every 10 %, whichever comes first
const COMPLETIONS_PER_TRANSACTION = 100;
const PARALLEL_COMPLETIONS = 4;
const POISON_ATTEMPTS = 3;

export class Engine {
  private readonly timeline = new MinHeap<string>();
  private readonly active = new Map<string, Active>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private flushing = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly claims: { id: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private claiming = false;
  private claimTimer: NodeJS.Timeout | undefined;
  private unwatchClock: (() => void) | undefined;

  constructor(private readonly o: EngineOptions) {}

  get inFlight(): number {
    return this.active.size;
  }

  start(): void {
    this.heartbeat = setInterval(() => {
      if (!this.active.size) return;
      renewLeases(this.o.db, this.o.owner, Date.now() + this.o.leaseMs).catch((err) => this.o.logger.error({ err }, 'lease renewal failed'));
    }, Math.max(100, Math.floor(this.o.leaseMs / 3)));
    this.heartbeat.unref();
    this.unwatchClock = this.o.clock.onChange(() => this.rearm());
  }

  /** The clock jumped, paused, resumed or changed pace: the armed wake-up is wrong now. */
  private rearm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.arm();
  }

  /**
   * Queue handler: resolves once the operation is claimed in the database (so the message can be
   * acked) or found to be someone else's. Messages arriving together are claimed in one statement.
   */
  handle = (operationId: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      // An operation already held is still offered to the claim: after a reset or an import the
      // same id can be a new row with no lease, and the conditional claim is what decides.
      if (this.stopped) return resolve();
      this.claims.push({ id: operationId, resolve, reject });
      if (!this.o.claimWindowMs) return void this.claimLoop();
      // A claim under way takes whatever arrived meanwhile when it is done; otherwise wait a moment.
      if (this.claiming || this.claimTimer) return;
      this.claimTimer = setTimeout(() => {
        this.claimTimer = undefined;
        void this.claimLoop();
      }, this.o.claimWindowMs);
    });

  private async claimLoop(): Promise<void> {
    if (this.claiming) return;
    this.claiming = true;
    try {
      while (this.claims.length && !this.stopped) {
        const batch = this.claims.splice(0, 500);
        const ids = [...new Set(batch.map((b) => b.id))];
        try {
          const now = Date.now();
          const simNow = this.o.clock.now();
          // A claim only touches rows nobody alive owns; sorted ids make concurrent claims by
          // several workers lock rows in the same order.
          ids.sort();
          const rows = ids.length ? await claimOperations(this.o.db, ids, this.o.owner, now, this.o.leaseMs, simNow) : [];
          for (const row of rows) this.adopt(row, simNow);
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
      for (const b of this.claims.splice(0)) b.resolve(); // stopped: leave them to the broker / reconciler
    } finally {
      this.claiming = false;
    }
  }

  private adopt(row: OperationRow, now: number): void {
    const plan = planOf(row);
    const startedMs = row.started_ms ?? now;
    const endMs = planEndMs(startedMs, plan);
    this.active.set(row.id, { row, plan, startedMs, endMs, progress: row.progress, message: row.message });
    if (row.attempts > 1) this.o.logger.info({ operation_id: row.id, kind: row.kind, attempt: row.attempts }, 'operation taken over');
    this.schedule(row.id, now); // report "running" at once
  }

  private schedule(id: string, at: number): void {
    this.timeline.push(at, id);
    this.arm();
  }

  private arm(): void {
    const next = this.timeline.peekKey();
    if (next === undefined || this.flushing || this.stopped) return;
    if (this.timer && next >= this.timerAt) return;
    const delay = this.o.clock.wallDelay(next);
    if (delay === Infinity) return; // paused: the clock's change re-arms us
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.flush();
    }, Math.min(delay, 2 ** 31 - 1));
  }

  private nextReport(a: Active, now: number): number {
    // The one-second gap is wall time (what a watcher sees); the 10 % step is the plan's own.
    const step = Math.max(1, Math.min(MAX_REPORT_GAP_MS * this.o.clock.rate(), (a.endMs - a.startedMs) * STEP));
    return Math.min(a.endMs, now + step);
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const now = this.o.clock.now();
      const slack = 2 * this.o.clock.rate();
      const due: Active[] = [];
      const reports: Active[] = [];
      while ((this.timeline.peekKey() ?? Infinity) <= now + slack) {
        const id = this.timeline.pop()!;
        const a = this.active.get(id);
        if (!a) continue;
        if (now + slack >= a.endMs) due.push(a);
        else reports.push(a);
      }
      // After a clock advance many finish at once: earlier ends first, and one chunk at a time,
      // so their events keep the simulated order.
      due.sort((x, y) => x.endMs - y.endMs);
      const jumped = due.length > 1 && due[0]!.endMs < now - MAX_REPORT_GAP_MS * this.o.clock.rate();
      // Completions and progress touch disjoint operations (a due operation is not reported), and
      // neither waits on lease renewal, so they run side by side on their own connections; on
      // PostgreSQL that overlaps their round trips, on SQLite they simply queue.
      const chunks: Active[][] = [];
      const batched = due.filter((a) => !a.solo);
      for (let i = 0; i < batched.length; i += COMPLETIONS_PER_TRANSACTION) chunks.push(batched.slice(i, i + COMPLETIONS_PER_TRANSACTION));
      for (const a of due) if (a.solo) chunks.push([a]);
      const completing = (async () => {
        const parallel = jumped ? 1 : PARALLEL_COMPLETIONS;
        for (let i = 0; i < chunks.length; i += parallel) await Promise.all(chunks.slice(i, i + parallel).map((c) => this.complete(c)));
      })();
      await Promise.all([completing, reports.length ? this.report(reports, now) : undefined]);
    } catch (err) {
      this.o.logger.error({ err }, 'engine flush failed; retrying');
    } finally {
      this.flushing = false;
      this.arm();
    }
  }

  private async report(batch: Active[], now: number): Promise<void> {
    const at = nowIso();
    const updates: ProgressUpdate[] = [];
    const events: { id: string; event: NewEvent }[] = [];
    for (const a of batch) {
      const span = Math.max(1, a.plan.duration_ms);
      const fraction = Math.min(1, (now - a.startedMs) / span);
      const before = a.progress;
      a.progress = Math.max(a.progress, Math.min(99, Math.floor(fraction * 100)));
      // Woken late (a clock jump, a stalled event loop): the 10 % steps in between are still told.
      for (const e of this.catchUp(a, before, a.progress)) events.push({ id: a.row.id, event: e });
      a.message = phaseAt(a.plan, fraction);
      a.row = { ...a.row, status: 'running', progress: a.progress, message: a.message, updated_at: at };
      updates.push({ id: a.row.id, progress: a.progress, message: a.message });
      events.push({ id: a.row.id, event: operationEvent(a.row) });
    }
    let written: Set<string> | undefined;
    try {
      await this.o.db.transaction(async (trx) => {
        written = await writeProgress(trx, this.o.owner, updates, at, Date.now() + this.o.leaseMs);
        await appendEvents(trx, events.filter((e) => written!.has(e.id)).map((e) => e.event));
      });
      announceEvents(this.o.bus);
    } finally {
      for (const a of batch) {
        // Not written: the operation was reset, cancelled or taken over; it is no longer ours.
        if (written && !written.has(a.row.id)) {
          if (this.active.get(a.row.id) === a) this.active.delete(a.row.id);
        }
        else this.timeline.push(this.nextReport(a, this.o.clock.now()), a.row.id);
      }
    }
  }

  private async complete(batch: Active[]): Promise<void> {
    const finished: [Active, boolean][] = [];
    try {
      await this.o.db.transaction(async (trx) => {
        finished.length = 0;
        const events: NewEvent[] = [];
        // Steps skipped by a clock jump are still told, in order, before the outcome.
        for (const a of batch) for (const e of this.catchUp(a, a.progress, a.plan.outcome === 'fail' ? Math.floor(a.plan.fail_at * 100) : 100)) events.push(e);
        const closed = await completeOperations(
          trx,
          this.o.owner,
          batch.map((a) => ({ op: a.row, outcome: outcomeOf(a.plan) })),
          (e) => events.push(e),
        );
        for (const a of batch) finished.push([a, closed.has(a.row.id)]);
        await appendEvents(trx, events);
      });
    } catch (err) {
      // Nothing was committed. One bad operation must not hold back the others: a failed batch is
      // retried one operation per transaction, and one that keeps failing alone is failed.
      if (isDependencyUnavailable(err)) {
        // The database is away: nothing is poison, everything waits for it to return.
        this.o.logger.error({ err, count: batch.length }, 'completing operations failed: database unreachable; will retry');
        for (const a of batch) this.timeline.push(this.o.clock.now() + 1000 * this.o.clock.rate(), a.row.id);
        return;
      }
      if (batch.length > 1) {
        this.o.logger.error({ err, count: batch.length }, 'completing a batch failed; retrying its operations one by one');
        for (const a of batch) a.solo = true;
      } else {
        const a = batch[0]!;
        a.failures = (a.failures ?? 0) + 1;
        this.o.logger.error({ err, operation_id: a.row.id, attempt: a.failures }, 'completing an operation failed; will retry');
        if (a.failures >= POISON_ATTEMPTS) return this.giveUp(a, err);
      }
      for (const a of batch) this.timeline.push(this.o.clock.now() + 200 * this.o.clock.rate(), a.row.id);
      return;
    }
    announceEvents(this.o.bus);
    for (const [a, done] of finished) {
      if (this.active.get(a.row.id) === a) this.active.delete(a.row.id);
      if (done) {
        const status = a.plan.outcome === 'succeed' ? 'succeeded' : 'failed';
        this.o.logger.info({ operation_id: a.row.id, kind: a.row.kind, resource_id: a.row.resource_id, status }, 'operation finished');
        this.o.onFinished?.(a.row, status);
      }
    }
  }

  /**
   * An operation whose outcome cannot be applied (a poison one): it fails with a clear error and its
   * resource takes its failure state. If even that cannot be written, the operation is closed as
   * failed on its own; it never blocks the engine.
   */
  private async giveUp(a: Active, cause: unknown): Promise<void> {
    const reason = cause instanceof Error ? cause.message.slice(0, 300) : String(cause);
    const error = { code: 'completion_failed', message: `the operation's outcome could not be applied: ${reason}` };
    const outcome = { status: 'failed' as const, error, progress: a.progress, message: `failed: ${error.message}` };
    let closed = false;
    try {
      await this.o.db.transaction(async (trx) => {
        const events: NewEvent[] = [];
        closed = (await completeOperations(trx, this.o.owner, [{ op: a.row, outcome }], (e) => events.push(e))).has(a.row.id);
        await appendEvents(trx, events);
      });
    } catch (err) {
      this.o.logger.error({ err, operation_id: a.row.id }, 'failing a poison operation with its resource failed; closing the operation alone');
      await this.o.db
        .transaction(async (trx) => {
          const at = nowIso();
          closed = await finishOperation(trx, a.row.id, this.o.owner, { status: 'failed', progress: a.progress, message: outcome.message, error_code: error.code, error_message: error.message }, at);
          if (closed) await appendEvents(trx, [operationEvent({ ...a.row, status: 'failed', message: outcome.message, error_code: error.code, error_message: error.message, updated_at: at, finished_at: at }, 'operation.failed')]);
        })
        .catch((e) => this.o.logger.error({ err: e, operation_id: a.row.id }, 'could not close a poison operation; its lease will lapse'));
    }
    this.active.delete(a.row.id);
    announceEvents(this.o.bus);
    if (closed) {
      this.o.logger.error({ operation_id: a.row.id, kind: a.row.kind, resource_id: a.row.resource_id, error }, 'operation failed: its outcome could not be applied');
      this.o.onFinished?.(a.row, 'failed');
    }
  }

  /** Progress events at each 10 % step strictly between two reported values (SPEC §5). */
  private catchUp(a: Active, from: number, to: number): NewEvent[] {
    const events: NewEvent[] = [];
    for (let p = (Math.floor(from / 10) + 1) * 10; p < to; p += 10) {
      events.push(operationEvent({ ...a.row, status: 'running', progress: p, message: phaseAt(a.plan, p / 100) }));
    }
    return events;
  }

  /** Stops taking work and hands back what is in flight: another worker resumes it where it was. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.claimTimer) clearTimeout(this.claimTimer);
    this.claimTimer = undefined;
    for (const b of this.claims.splice(0)) b.resolve(); // not claimed: the broker or the reconciler hands them out again
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.unwatchClock?.();
    while (this.flushing) await new Promise((r) => setTimeout(r, 10));
    const ids = [...this.active.keys()];
    this.active.clear();
    for (let i = 0; i < ids.length; i += 500) await releaseLeases(this.o.db, this.o.owner, ids.slice(i, i + 500)).catch(() => undefined);
  }
}
