import type { Db, Q } from '../db.js';
import { isPostgres } from '../db.js';
import type { Bus } from '../events/bus.js';

// The one source of simulated time (SPEC §11). Every component that plays a simulated story —
// the engine, later costs, schedules and metrics — reads time from a Clock handed to it, never
// from Date.now(). Leases, timeouts and rate limits stay on wall time and keep using Date.now().
//
// Simulated time is a line through one anchor: at wall time `anchorWallMs` it was `anchorSimMs`,
// and it runs at 1 / time_scale (time_scale 0, "instant", plans zero-length operations, so the
// clock simply keeps wall pace). Pausing freezes it at the anchor; advancing moves the anchor.

export const CLOCK_CHANNEL = 'mockcloud:clock';

export interface ClockState {
  anchorWallMs: number;
  anchorSimMs: number;
  timeScale: number;
  paused: boolean;
}

/** Simulated milliseconds per wall millisecond. */
export const rateOf = (s: ClockState) => (s.timeScale > 0 ? 1 / s.timeScale : 1);

export const simAt = (s: ClockState, wallMs: number) => (s.paused ? s.anchorSimMs : s.anchorSimMs + (wallMs - s.anchorWallMs) * rateOf(s));

/** The wall time at which simulated time reaches `simMs`; Infinity while paused short of it. */
export function wallAt(s: ClockState, simMs: number): number {
  if (s.paused) return simMs <= s.anchorSimMs ? -Infinity : Infinity;
  return s.anchorWallMs + (simMs - s.anchorSimMs) / rateOf(s);
}

/** A state re-anchored at `wallMs`: same simulated instant, new parameters. */
export const reanchor = (s: ClockState, wallMs: number, change: Partial<ClockState> = {}): ClockState => ({
  ...s,
  anchorWallMs: wallMs,
  anchorSimMs: Math.round(simAt(s, wallMs)),
  ...change,
});

/** What components that need simulated time receive. Reads are synchronous (cached state). */
export interface Clock {
  /** Simulated epoch milliseconds now. */
  now(): number;
  /** Simulated milliseconds per wall millisecond. */
  rate(): number;
  /** Wall milliseconds until simulated time reaches `simMs` (0 if passed, Infinity while paused). */
  wallDelay(simMs: number): number;
  /** Called whenever the clock jumps, pauses, resumes or changes pace. */
  onChange(listener: () => void): () => void;
}

interface ClockRow {
  anchor_wall_ms: number | string;
  anchor_sim_ms: number | string;
  time_scale: number;
  paused: boolean | number;
}

const fromRow = (r: ClockRow): ClockState => ({
  anchorWallMs: Number(r.anchor_wall_ms),
  anchorSimMs: Number(r.anchor_sim_ms),
  timeScale: Number(r.time_scale),
  paused: Boolean(r.paused),
});

export async function readClock(db: Q, forUpdate = false): Promise<ClockState | undefined> {
  let q = db('simulated_clock').where({ id: 1 });
  if (forUpdate && isPostgres(db)) q = q.forUpdate();
  const row = (await q.first()) as ClockRow | undefined;
  return row ? fromRow(row) : undefined;
}

export async function writeClock(db: Q, s: ClockState): Promise<void> {
  const row = { anchor_wall_ms: Math.round(s.anchorWallMs), anchor_sim_ms: Math.round(s.anchorSimMs), time_scale: s.timeScale, paused: s.paused, updated_at: new Date().toISOString() };
  await db('simulated_clock').insert({ id: 1, ...row }).onConflict('id').merge(row);
}

/**
 * A process's view of the shared clock: the row cached in memory, replaced when any replica
 * announces a change on the bus, and re-read every second in case an announcement was lost.
 */
export class SharedClock implements Clock {
  private listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;

  private constructor(
    private readonly deps: { db: Db; bus: Bus },
    private s: ClockState,
  ) {}

  /** Opens the clock, creating the row (simulated time = wall time, the given pace) if none exists. */
  static async open(deps: { db: Db; bus: Bus; timeScale?: number }): Promise<SharedClock> {
    let s = await readClock(deps.db);
    if (!s) {
      s = { anchorWallMs: Date.now(), anchorSimMs: Date.now(), timeScale: deps.timeScale ?? 1, paused: false };
      await deps.db('simulated_clock').insert({ id: 1, anchor_wall_ms: s.anchorWallMs, anchor_sim_ms: s.anchorSimMs, time_scale: s.timeScale, paused: false, updated_at: new Date().toISOString() }).onConflict('id').ignore();
      s = (await readClock(deps.db)) ?? s;
    }
    const clock = new SharedClock(deps, s);
    clock.unsubscribe = await deps.bus.subscribe(CLOCK_CHANNEL, () => void clock.refresh());
    clock.timer = setInterval(() => void clock.refresh(), 1000);
    clock.timer.unref();
    return clock;
  }

  state(): ClockState {
    return this.s;
  }

  now(): number {
    return Math.round(simAt(this.s, Date.now()));
  }

  rate(): number {
    return rateOf(this.s);
  }

  wallDelay(simMs: number): number {
    return Math.max(0, wallAt(this.s, simMs) - Date.now());
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes a state this process just wrote (no need to wait for the bus). */
  apply(next: ClockState): void {
    const prev = this.s;
    this.s = next;
    if (prev.anchorSimMs !== next.anchorSimMs || prev.anchorWallMs !== next.anchorWallMs || prev.timeScale !== next.timeScale || prev.paused !== next.paused) {
      for (const l of this.listeners) l();
    }
  }

  async refresh(): Promise<void> {
    const s = await readClock(this.deps.db).catch(() => undefined);
    if (s) this.apply(s);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.unsubscribe?.().catch(() => undefined);
    this.listeners.clear();
  }
}
