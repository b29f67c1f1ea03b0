import type { Db } from '../db.js';
import { locked, nowIso } from '../db.js';
import { AnnouncedCache } from '../common/announced-cache.js';
import { checkIfMatch } from '../common/etag.js';
import type { Bus } from '../events/bus.js';
import { applyPatch, effectiveSettings, type SimulationPatch, type SimulationSettings, type StoredSimulation } from './settings.js';

export const SIMULATION_CHANNEL = 'mockcloud:simulation';

/**
 * Run-time simulation settings, shared by every replica through the database. Start-up
 * configuration is the base; PATCH /simulation stores the result. Each process caches the settings
 * (core/common/announced-cache.ts): dropped when any replica announces a change, refreshed in the
 * background after a second in case the announcement was lost.
 */
export class SimulationService {
  private readonly cache = new AnnouncedCache(async () => effectiveSettings(await this.stored()));

  constructor(private readonly deps: { db: Db; bus: Bus; base: StoredSimulation; clock?: { setTimeScale(timeScale: number): Promise<unknown> } }) {}

  async start(): Promise<void> {
    await this.deps.bus.subscribe(SIMULATION_CHANNEL, () => this.cache.invalidate());
  }

  private async stored(): Promise<StoredSimulation> {
    const row = (await this.deps.db('simulation_settings').where({ id: 1 }).first()) as { settings: string } | undefined;
    return row ? (JSON.parse(row.settings) as StoredSimulation) : this.deps.base;
  }

  get(): Promise<SimulationSettings> {
    return this.cache.get();
  }

  /** With `ifMatch`, the patch applies only to the settings that ETag names (412 otherwise). */
  async update(patch: SimulationPatch, ifMatch?: string): Promise<SimulationSettings> {
    const next = await this.deps.db.transaction(async (trx) => {
      const row = (await locked(trx, trx('simulation_settings').where({ id: 1 }).first(), 'update')) as { settings: string } | undefined;
      const current = row ? (JSON.parse(row.settings) as StoredSimulation) : this.deps.base;
      checkIfMatch(ifMatch, effectiveSettings(current));
      const merged = applyPatch(current, patch);
      const settings = JSON.stringify(merged);
      if (row) await trx('simulation_settings').where({ id: 1 }).update({ settings, updated_at: nowIso() });
      else await trx('simulation_settings').insert({ id: 1, settings, updated_at: nowIso() });
      return merged;
    });
    this.cache.invalidate();
    await this.deps.bus.publish(SIMULATION_CHANNEL, '1').catch(() => undefined);
    // The simulated clock's pace is 1 / time_scale: it follows at once, on every replica.
    await this.deps.clock?.setTimeScale(next.time_scale);
    return effectiveSettings(next);
  }
}
