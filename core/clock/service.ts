import type { Db } from '../db.js';
import type { Bus } from '../events/bus.js';
import { planEndMs, type Plan } from '../simulation/plan.js';
import { CLOCK_CHANNEL, readClock, reanchor, simAt, writeClock, type ClockState, type SharedClock } from './clock.js';

export interface ClockView {
  now: string;
  time_scale: number;
  paused: boolean;
}

const MAX_STEPS = 200;
const STEP_WAIT_MS = 10_000;

/**
 * Changes to the shared clock (GET|POST /admin/clock…). Every change is one row update, then an
 * announcement on the bus so every engine re-arms at once.
 */
export class ClockService {
  constructor(private readonly deps: { db: Db; bus: Bus; clock: SharedClock }) {}

  get clock(): SharedClock {
    return this.deps.clock;
  }

  view(s: ClockState = this.deps.clock.state()): ClockView {
    return { now: new Date(Math.round(simAt(s, Date.now()))).toISOString(), time_scale: s.timeScale, paused: s.paused };
  }

  async get(): Promise<ClockView> {
    await this.deps.clock.refresh();
    return this.view();
  }

  private async change(f: (s: ClockState, wall: number) => ClockState | undefined): Promise<ClockState> {
    const next = await this.deps.db.transaction(async (trx) => {
      const s = (await readClock(trx, true)) ?? this.deps.clock.state();
      const n = f(s, Date.now());
      if (!n) return s;
      await writeClock(trx, n);
      return n;
    });
    this.deps.clock.apply(next);
    await this.deps.bus.publish(CLOCK_CHANNEL, '1').catch(() => undefined);
    return next;
  }

  pause = async () => this.view(await this.change((s, wall) => (s.paused ? undefined : reanchor(s, wall, { paused: true }))));
  resume = async () => this.view(await this.change((s, wall) => (s.paused ? reanchor(s, wall, { paused: false }) : undefined)));

  /** Follows a new time_scale (PATCH /simulation, start-up): same simulated instant, new pace. */
  setTimeScale = async (timeScale: number) =>
    this.change((s, wall) => (s.timeScale === timeScale ? undefined : reanchor(s, wall, { timeScale })));

  /** Puts simulated time at `simMs` (never backwards). */
  private jumpTo = (simMs: number) =>
    this.change((s, wall) => {
      const cur = simAt(s, wall);
      return simMs > cur ? reanchor(s, wall, { anchorSimMs: Math.round(simMs) }) : undefined;
    });

  /**
   * Jumps simulated time forward. Everything due in between happens in order: the clock stops at
   * each due completion (at most MAX_STEPS stops) and waits until the workers holding those
   * operations have finished them, so their events are ordered by simulated time even when several
   * workers share the work. Operations nobody works on (no live lease) are not waited for: the
   * reconciler hands them to a worker, which finishes them at once on the new clock.
   */
  async advance(seconds: number): Promise<ClockView> {
    await this.deps.clock.refresh();
    const target = this.deps.clock.now() + Math.round(seconds * 1000);
    await this.waitForClaims();
    const due = (await this.inFlightEnds()).filter((o) => o.end <= target).sort((a, b) => a.end - b.end);
    const stops = [...new Set(due.map((o) => o.end))];
    const every = Math.ceil(stops.length / MAX_STEPS);
    const chosen = stops.filter((_, i) => (i + 1) % every === 0 || i === stops.length - 1);
    for (const stop of chosen) {
      await this.jumpTo(stop);
      await this.waitFinished(due.filter((o) => o.end <= stop).map((o) => o.id));
    }
    await this.jumpTo(target);
    return this.view();
  }

  private async inFlightEnds(): Promise<{ id: string; end: number }[]> {
    const rows = (await this.deps.db('operations').whereIn('status', ['pending', 'running']).whereNotNull('started_ms').select('id', 'started_ms', 'plan')) as { id: string; started_ms: number | string; plan: string | null }[];
    return rows.filter((r) => r.plan).map((r) => ({ id: r.id, end: planEndMs(Number(r.started_ms), JSON.parse(r.plan!) as Plan) }));
  }

  /**
   * Operations dispatched a moment ago (just submitted, imported or restored) are claimed by a
   * worker before time jumps, so the jump carries them along instead of leaving them behind.
   */
  private async waitForClaims(): Promise<void> {
    const deadline = Date.now() + 3000;
    const recentMs = Date.now() - 10_000;
    const recent = new Date(recentMs).toISOString();
    while (Date.now() < deadline) {
      const n = await this.deps.db('operations')
        .whereIn('status', ['pending', 'running'])
        .whereNull('lease_owner')
        .andWhere((w) => w.where('dispatched_ms', '>', recentMs).orWhere((c) => c.whereNull('dispatched_ms').andWhere('created_at', '>', recent)))
        .count({ n: '*' });
      if (Number((n as { n: number | string }[])[0]!.n) === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async waitFinished(ids: string[]): Promise<void> {
    const deadline = Date.now() + STEP_WAIT_MS;
    while (ids.length && Date.now() < deadline) {
      const live: string[] = [];
      for (let i = 0; i < ids.length; i += 500) {
        const rows = (await this.deps.db('operations')
          .whereIn('id', ids.slice(i, i + 500))
          .whereIn('status', ['pending', 'running'])
          .whereNotNull('lease_owner')
          .andWhere('lease_expires_ms', '>', Date.now())
          .select('id')) as { id: string }[];
        live.push(...rows.map((r) => r.id));
      }
      if (!live.length) return;
      ids = live;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
