import type { Db } from '../db.js';
import { AppError } from '../errors.js';
import type { Bus } from './bus.js';
import { EVENTS_CHANNEL, type EventRow } from './event-log.js';
import { logBounds, matches, prunedThrough, readRange, readTail, type EventFilter } from './queries.js';

export type FeedFilter = EventFilter;

/** Why a stream cannot continue gap-free from the id it was given, and where it continues instead. */
export interface ResetNotice {
  /** `expired`: retention dropped events after `lastEventId`; `ahead`: no event that new exists. */
  reason: 'expired' | 'ahead';
  lastEventId: number;
  prunedThrough: number;
  /** The stream goes on with the events after this seq. */
  resumeAfter: number;
}

/** Where a stream's output goes; the HTTP layer turns it into SSE. */
export interface FeedSink {
  /** Once, before anything else: the stream is admitted and its starting point is known. */
  open(): void;
  /**
   * Matching events, in sequence order, never one twice. Streams handed the same rows in one read
   * get the same array (and rows are shared objects), so a sink may cache encodings by identity.
   */
  events(rows: readonly EventRow[]): void;
  /**
   * Backpressure. `keepsUp`: false once the client has more waiting than it should (it stopped
   * reading, or reads slower than events come); the stream then leaves the live set and goes on
   * from the event log at the client's pace. `drained` resolves once the client has taken what
   * was written (or is gone). Without them a stream is always live.
   */
  keepsUp?(): boolean;
  drained?(): Promise<void>;
  reset(notice: ResetNotice): void;
  /** The feed is stopping (shutdown): end the stream. */
  end(): void;
}

export interface FeedStream {
  /**
   * Settles the starting point and opens the sink. Rejects (and closes the stream) when the
   * database cannot be read; resolves without opening when the stream was closed meanwhile.
   */
  start(): Promise<void>;
  /** Frees the stream. Safe to call at any time, more than once, before or during start(). */
  close(): void;
}

export interface EventFeedOptions {
  db: Db;
  bus: Bus;
  /** Open streams this process accepts; beyond it `open` answers 503 `unavailable`. */
  maxStreams?: number;
  /** Fallback read when no bus wake-up came (a lost Redis message costs at most this). */
  pollMs?: number;
  /**
   * Least time between two tail reads. Wake-ups come with every engine flush (tens a second under
   * load); reading at most this often batches them, so each stream gets one write per interval
   * instead of one per flush, for at most this much added delay.
   */
  coalesceMs?: number;
  page?: number;
  onError?: (err: unknown, context: string) => void;
}

interface Stream {
  readonly filter: FeedFilter;
  readonly sink: FeedSink;
  /** Everything up to this seq has been delivered to this stream, or did not match its filter. */
  cursor: number;
  started: boolean;
  live: boolean;
  catchingUp: boolean;
  closed: boolean;
  /** Rows handed to the outbox and not yet written to the sink. */
  queued: number;
}

const RETRY_FULL_S = 5;
const RETRY_STOPPING_S = 2;
const FLUSH_SLICE = 64;

/**
 * Live, gap-free views of the event log, one reader per process.
 *
 * A single tail cursor reads `events WHERE seq > tail` on a wake-up (a bus message or the fallback
 * poll; at most every `coalesceMs`) and hands each row to every live stream whose filter matches,
 * so the database sees one query per wake-up whatever the number of streams, and a filtered stream
 * costs nothing while nothing matches. A stream that resumes from an older `Last-Event-ID` first
 * catches up on its own (`seq` in (cursor, tail]) and joins the live set in the same tick in which
 * it finds itself at the tail; the tail and every live cursor advance in the same synchronous step
 * that queues the rows, so nothing falls in between and nothing is delivered twice. With no stream
 * open, nothing is read at all.
 */
export class EventFeed {
  private readonly db: Db;
  private readonly bus: Bus;
  private readonly maxStreams: number;
  private readonly pollMs: number;
  private readonly coalesceMs: number;
  private readonly page: number;
  private readonly onError: (err: unknown, context: string) => void;

  private readonly streams = new Set<Stream>();
  private readonly live = new Set<Stream>();
  /** Highest seq the tail reader has read and delivered. */
  private tail = 0;
  private activation: Promise<void> | undefined;
  private running = false;
  private poll: NodeJS.Timeout | undefined;
  private subscription: Promise<(() => Promise<void>) | undefined> | undefined;
  private pumping = false;
  private again = false;
  private lastRead = 0;
  private readonly outbox: { s: Stream; rows: readonly EventRow[] }[] = [];
  private flushing = false;
  private deferred: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(o: EventFeedOptions) {
    this.db = o.db;
    this.bus = o.bus;
    this.maxStreams = o.maxStreams ?? 1000;
    this.pollMs = o.pollMs ?? 2000;
    this.coalesceMs = o.coalesceMs ?? 100;
    this.page = o.page ?? 500;
    this.onError = o.onError ?? (() => undefined);
  }

  /** Streams admitted and not yet closed (opening ones included). */
  get size(): number {
    return this.streams.size;
  }

  /** What the feed holds right now, for metrics and tests. */
  stats(): { open: number; live: number; reading: boolean } {
    return { open: this.streams.size, live: this.live.size, reading: this.running };
  }

  /**
   * Admits a stream, synchronously, so the caller can tie its close to the client's before anything
   * is awaited. Throws `unavailable` when the process holds `maxStreams` already or is stopping.
   */
  open(filter: FeedFilter, afterSeq: number | undefined, sink: FeedSink): FeedStream {
    if (this.stopped) throw new AppError('unavailable', 'this server is shutting down; reconnect', { retryAfter: RETRY_STOPPING_S });
    if (this.streams.size >= this.maxStreams) {
      throw new AppError('unavailable', `this server already holds its maximum of ${this.maxStreams} event streams; retry later`, { retryAfter: RETRY_FULL_S });
    }
    const s: Stream = { filter, sink, cursor: 0, started: false, live: false, catchingUp: false, closed: false, queued: 0 };
    this.streams.add(s);
    return { start: () => this.start(s, afterSeq), close: () => this.close(s) };
  }

  /** Ends every stream (each sink's `end`) and refuses new ones. */
  stop(): void {
    this.stopped = true;
    for (const s of [...this.streams]) {
      this.close(s);
      try {
        s.sink.end();
      } catch (err) {
        this.onError(err, 'end');
      }
    }
    // Not awaited: with Redis away a pending subscribe never settles, and shutdown must not wait
    // for it (the composition root closes the bus right after).
    void this.subscription?.then((unsubscribe) => unsubscribe?.()).catch(() => undefined);
    this.subscription = undefined;
  }

  private async start(s: Stream, afterSeq: number | undefined): Promise<void> {
    if (s.closed) return;
    let ahead: ResetNotice | undefined;
    try {
      await this.activate();
      if (s.closed) return;
      if (afterSeq === undefined) {
        s.cursor = this.tail;
      } else {
        const b = await logBounds(this.db);
        if (s.closed) return;
        if (afterSeq > b.newest) {
          s.cursor = Math.max(this.tail, b.newest);
          ahead = { reason: 'ahead', lastEventId: afterSeq, prunedThrough: b.prunedThrough, resumeAfter: s.cursor };
        } else {
          // Whether retention took events after it is checked with each catch-up read, after it.
          s.cursor = afterSeq;
        }
      }
    } catch (err) {
      this.close(s);
      throw err;
    }
    s.started = true;
    s.sink.open();
    if (ahead) s.sink.reset(ahead);
    void this.catchUp(s);
  }

  private close(s: Stream): void {
    if (s.closed) return;
    s.closed = true;
    this.streams.delete(s);
    this.live.delete(s);
    if (this.streams.size === 0) this.idle();
  }

  /** The first stream wakes the tail reader: it starts from the newest event, not from history. */
  private activate(): Promise<void> {
    if (this.activation) return this.activation;
    this.subscription ??= this.bus
      .subscribe(EVENTS_CHANNEL, () => {
        this.wake();
      })
      .catch((err: unknown) => {
        // Streams still get everything through the poll; the next activation subscribes again.
        this.subscription = undefined;
        this.onError(err, 'subscribe');
        return undefined;
      });
    const p: Promise<void> = logBounds(this.db).then(
      (b) => {
        this.tail = Math.max(this.tail, b.newest);
        if (this.activation !== p || this.stopped || this.streams.size === 0) return;
        this.running = true;
        this.poll = setInterval(() => this.wake(), this.pollMs);
        this.poll.unref();
      },
      (err: unknown) => {
        if (this.activation === p) this.activation = undefined;
        throw err;
      },
    );
    this.activation = p;
    return p;
  }

  /** No stream left: stop reading. The bus subscription stays; its wake-ups are ignored. */
  private idle(): void {
    this.activation = undefined;
    this.running = false;
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    if (this.deferred) clearTimeout(this.deferred);
    this.deferred = undefined;
  }

  /** Something new may be in the log: read it now, or once `coalesceMs` has passed since the last read. */
  private wake(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.deferred) return;
    const wait = this.lastRead + this.coalesceMs - Date.now();
    if (wait <= 0) {
      void this.pump();
      return;
    }
    this.deferred = setTimeout(() => {
      this.deferred = undefined;
      this.wake();
    }, wait);
    this.deferred.unref();
  }

  private async pump(): Promise<void> {
    if (!this.running) return;
    this.pumping = true;
    this.again = false;
    this.lastRead = Date.now();
    try {
      for (;;) {
        const rows = await readTail(this.db, this.tail, this.page);
        if (!this.running || rows.length === 0) break;
        this.deliver(rows);
        if (rows.length < this.page) break;
      }
    } catch (err) {
      // The database blinked; the next wake-up or poll reads again from the same tail.
      this.onError(err, 'tail');
    } finally {
      this.pumping = false;
    }
    // Catch-ups that failed on a database error try again with the tail reader.
    for (const s of this.streams) if (s.started && !s.live && !s.catchingUp) void this.catchUp(s);
    if (this.again) this.wake();
  }

  /** Advances the tail and hands the rows out, in one synchronous step (see the class comment). */
  private deliver(rows: EventRow[]): void {
    const through = rows[rows.length - 1]!.seq;
    if (through <= this.tail) return;
    this.tail = through;
    const byProject = new Map<string, EventRow[]>();
    for (const r of rows) {
      const list = byProject.get(r.project_id);
      if (list) list.push(r);
      else byProject.set(r.project_id, [r]);
    }
    for (const s of this.live) {
      if (!this.keepsUp(s)) {
        // Its cursor stays where it is: the event log holds what it has not taken, not this
        // process's memory, and catch-up sends it on as fast as the client reads.
        s.live = false;
        this.live.delete(s);
        void this.catchUp(s);
        continue;
      }
      const candidates = byProject.get(s.filter.projectId);
      if (candidates) {
        const mine = candidates.filter((r) => r.seq > s.cursor && matches(s.filter, r));
        // The same array for every stream that takes them all, so the sink can encode it once.
        if (mine.length) {
          this.outbox.push({ s, rows: mine.length === candidates.length ? candidates : mine });
          s.queued += mine.length;
        }
      }
      if (s.cursor < through) s.cursor = through;
    }
    if (this.outbox.length && !this.flushing) {
      this.flushing = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Writes queued batches a slice of streams per turn of the event loop: hundreds of socket writes in
   * one go would hold every other request back for as long. Order per stream is kept (one queue),
   * and cursors already moved in `deliver`, so deferring the writes changes nothing else.
   */
  private readonly flush = (): void => {
    const slice = this.outbox.splice(0, FLUSH_SLICE);
    for (const { s, rows } of slice) {
      s.queued -= rows.length;
      if (!s.closed) this.send(s, rows);
    }
    if (this.outbox.length) setImmediate(this.flush);
    else this.flushing = false;
  };

  private async catchUp(s: Stream): Promise<void> {
    if (s.catchingUp || s.live || s.closed) return;
    s.catchingUp = true;
    try {
      for (;;) {
        await this.caughtUpWithWrites(s);
        if (s.closed) return;
        const bound = this.tail;
        if (s.cursor >= bound) {
          // Synchronous with the check: the tail cannot move in between.
          s.live = true;
          this.live.add(s);
          return;
        }
        const from = s.cursor;
        const rows = await readRange(this.db, s.filter, from, bound, this.page);
        // Read after the rows: the mark only rises, in the transaction that deletes, so if it is
        // still at or below `from` now, nothing after `from` was gone when the rows were read.
        const pruned = await prunedThrough(this.db);
        if (s.closed) return;
        if (pruned > from) {
          s.cursor = Math.max(this.tail, pruned);
          s.sink.reset({ reason: 'expired', lastEventId: from, prunedThrough: pruned, resumeAfter: s.cursor });
          continue;
        }
        if (rows.length) this.send(s, rows);
        s.cursor = rows.length === this.page ? rows[rows.length - 1]!.seq : bound;
      }
    } catch (err) {
      this.onError(err, 'catch-up');
    } finally {
      s.catchingUp = false;
    }
  }

  /** A page at most waits for each client: one in the outbox, or one in the sink. */
  private keepsUp(s: Stream): boolean {
    return s.queued < this.page && (s.sink.keepsUp?.() ?? true);
  }

  /** Rows from the event log go out only after what the outbox holds for the stream (order), and after the client took them. */
  private async caughtUpWithWrites(s: Stream): Promise<void> {
    while (s.queued > 0 && !s.closed) await new Promise((r) => setImmediate(r));
    if (!s.closed && s.sink.drained) await s.sink.drained();
  }

  private send(s: Stream, rows: readonly EventRow[]): void {
    try {
      s.sink.events(rows);
    } catch (err) {
      this.onError(err, 'deliver');
      this.close(s);
    }
  }
}

export const toWire = (r: EventRow) => ({
  seq: r.seq,
  type: r.type,
  resource_type: r.resource_type,
  resource_id: r.resource_id,
  environment_id: r.environment_id,
  operation_id: r.operation_id,
  kind: r.kind,
  created_at: r.created_at,
  data: JSON.parse(r.data) as unknown,
});
