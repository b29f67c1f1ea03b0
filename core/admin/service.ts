import type { Db, Q } from '../db.js';
import { isUniqueViolation } from '../db.js';
import type { ClockService } from '../clock/service.js';
import { AppError } from '../errors.js';
import type { Bus } from '../events/bus.js';
import { announceEvents, appendEvents, type NewEvent } from '../events/event-log.js';
import type { Dispatcher } from '../operations/submit.js';
import type { SimulationService } from '../simulation/service.js';
import type { StoredSimulation } from '../simulation/settings.js';
import { checkScope, resetScope, type ResetCounts, type ResetScope } from './reset.js';
import { seedToDocument } from './seed.js';
import { exportTable, normaliseRow, rowKey, STATE_SCHEMA_VERSION, STATE_TABLES, upgradeDocument, type Row, type StateDocument, type StateTable } from './state.js';

export type Strategy = 'replace' | 'merge';

export interface Counts {
  added: number;
  changed: number;
  removed: number;
}

export interface ImportSummary extends Counts {
  strategy: Strategy;
  dry_run: boolean;
  schema_version: number;
  tables: Record<StateTable, Counts>;
}

export interface SnapshotInfo {
  name: string;
  created_at: string;
  size_bytes: number;
  resources: number;
}

export interface InitReport {
  applied: boolean;
  file: string | null;
  format: 'state' | 'seed' | null;
  applied_at: string | null;
  summary: ImportSummary | null;
}

// Projects are identity (SPEC §10): a document may add them, a replace never removes them.
const KEEP_ON_REPLACE = new Set<StateTable>(['projects']);

/**
 * Emulator control (SPEC §11): reset, state export/import, named snapshots and the start-up init.
 * Every change is one transaction with the events it causes; in-flight operations it brings in
 * are dispatched after the commit, like any other.
 */
export class AdminService {
  private init: InitReport = { applied: false, file: null, format: null, applied_at: null, summary: null };

  constructor(private readonly deps: { db: Db; bus: Bus; dispatcher: Dispatcher; simulation: SimulationService; clock: ClockService }) {}

  async reset(scope: ResetScope): Promise<ResetCounts> {
    const counts = await this.deps.db.transaction(async (trx) => {
      await checkScope(trx, scope);
      const events: NewEvent[] = [];
      const c = await resetScope(trx, scope, (e) => events.push(e));
      await appendEvents(trx, events);
      return c;
    });
    announceEvents(this.deps.bus);
    return counts;
  }

  /** The whole state, read in one transaction so it is consistent. */
  async exportState(): Promise<StateDocument> {
    const simulation = await this.deps.simulation.get();
    const stored: StoredSimulation = { time_scale: simulation.time_scale, seed: simulation.seed, failure_rate: simulation.failure_rate, operations: simulation.operations };
    const clock = this.deps.clock.clock;
    return this.deps.db.transaction(async (trx) => {
      const tables = {} as Record<StateTable, Row[]>;
      for (const t of STATE_TABLES) tables[t] = await exportTable(trx, t);
      const s = clock.state();
      return { schema_version: STATE_SCHEMA_VERSION, exported_at: new Date().toISOString(), simulation: stored, clock: { now_ms: clock.now(), time_scale: s.timeScale, paused: s.paused }, tables };
    });
  }

  private async diff(trx: Q, doc: StateDocument, strategy: Strategy): Promise<Record<StateTable, Counts>> {
    const out = {} as Record<StateTable, Counts>;
    for (const t of STATE_TABLES) {
      const current = new Map((await exportTable(trx, t)).map((r) => [rowKey(t, r), r]));
      const counts: Counts = { added: 0, changed: 0, removed: 0 };
      const seen = new Set<string>();
      for (const r of doc.tables[t]) {
        const k = rowKey(t, r);
        seen.add(k);
        const cur = current.get(k);
        if (!cur) counts.added++;
        else if (Object.entries(r).some(([col, v]) => col in cur && JSON.stringify(v) !== JSON.stringify(cur[col]) && !(t === 'operations' && col === 'started_ms'))) counts.changed++;
      }
      if (strategy === 'replace' && !KEEP_ON_REPLACE.has(t)) for (const k of current.keys()) if (!seen.has(k)) counts.removed++;
      out[t] = counts;
    }
    return out;
  }

  async importState(input: unknown, strategy: Strategy, dryRun: boolean): Promise<ImportSummary> {
    const givenVersion = (input as { schema_version?: unknown } | null)?.schema_version;
    const doc = upgradeDocument(input);
    const clock = this.deps.clock.clock;
    const dispatch: string[] = [];
    let summary: ImportSummary;
    try {
      summary = await this.deps.db.transaction(async (trx) => {
        const tables = await this.diff(trx, doc, strategy);
        const total = (k: keyof Counts) => Object.values(tables).reduce((n, c) => n + c[k], 0);
        const result: ImportSummary = { strategy, dry_run: dryRun, schema_version: typeof givenVersion === 'number' ? givenVersion : doc.schema_version, added: total('added'), changed: total('changed'), removed: total('removed'), tables };
        if (dryRun) return result;
        const events: NewEvent[] = [];
        if (strategy === 'replace') await resetScope(trx, {}, (e) => events.push(e));
        // In-flight operations keep the simulated time they had left when the document was taken.
        const shift = clock.now() - doc.clock.now_ms;
        for (const t of STATE_TABLES) {
          let rows = doc.tables[t];
          if (!rows.length) continue;
          const columns = new Set(Object.keys(await trx(t).columnInfo()));
          rows = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([c]) => columns.has(c))));
          if (t === 'operations') {
            rows = rows.map((r) => ({ ...r, started_ms: r.started_ms === null || r.started_ms === undefined ? null : Number(r.started_ms) + shift, lease_owner: null, lease_expires_ms: null, dispatched_ms: Date.now() }));
            dispatch.push(...rows.filter((r) => r.status === 'pending' || r.status === 'running').map((r) => String(r.id)));
          }
          const key = t === 'vm_security_groups' ? ['vm_id', 'security_group_id'] : ['id'];
          for (let i = 0; i < rows.length; i += 100) {
            const chunk = rows.slice(i, i + 100);
            if (t === 'projects') await trx(t).insert(chunk).onConflict(key).ignore();
            else await trx(t).insert(chunk).onConflict(key).merge();
          }
          if (['environments', 'security_groups', 'vms', 'volumes'].includes(t)) {
            const ids = rows.map((r) => String(r.id));
            for (let i = 0; i < ids.length; i += 500) await trx('resource_tags').whereIn('resource_id', ids.slice(i, i + 500)).delete();
            const tagRows = rows.flatMap((r) => Object.entries(JSON.parse(String(r.tags ?? '{}')) as Record<string, string>).map(([k, value]) => ({ resource_id: r.id, key: k, value })));
            for (let i = 0; i < tagRows.length; i += 200) await trx('resource_tags').insert(tagRows.slice(i, i + 200));
          }
        }
        events.push({ projectId: 'default', type: 'state.imported', resourceType: 'project', resourceId: '*', data: { strategy, added: result.added, changed: result.changed, removed: result.removed } });
        await appendEvents(trx, events);
        return result;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('already_exists', `the document clashes with existing resources (a name or address already taken by another id); try strategy=replace`, { cause: err });
      if (err instanceof AppError) throw err;
      const code = (err as { code?: string }).code ?? '';
      if (/FOREIGN|23503|NOT ?NULL|23502|SQLITE_CONSTRAINT/i.test(code)) throw new AppError('invalid_value', `the document is inconsistent: ${(err as Error).message.slice(0, 200)}`, { cause: err });
      throw err;
    }
    if (dryRun) return summary;
    announceEvents(this.deps.bus);
    if (strategy === 'replace') {
      const s = doc.simulation;
      await this.deps.simulation.update({ time_scale: s.time_scale, seed: s.seed, failure_rate: s.failure_rate, operations: s.operations });
    }
    for (const id of dispatch) await this.deps.dispatcher.dispatch(id).catch(() => undefined);
    return summary;
  }

  // Named snapshots: state documents kept in the database, so every replica sees them.

  async saveSnapshot(name: string): Promise<SnapshotInfo> {
    const doc = await this.exportState();
    const text = JSON.stringify(doc);
    const info: SnapshotInfo = { name, created_at: new Date().toISOString(), size_bytes: Buffer.byteLength(text), resources: resourceCount(doc) };
    try {
      await this.deps.db('state_snapshots').insert({ name, document: text, created_at: info.created_at, size_bytes: info.size_bytes, resources: info.resources });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('already_exists', `a snapshot named "${name}" exists; delete it first or pick another name`);
      throw err;
    }
    return info;
  }

  async listSnapshots(): Promise<SnapshotInfo[]> {
    const rows = (await this.deps.db('state_snapshots').select('name', 'created_at', 'size_bytes', 'resources').orderBy('created_at').orderBy('name')) as SnapshotInfo[];
    return rows.map((r) => ({ name: r.name, created_at: r.created_at, size_bytes: Number(r.size_bytes), resources: Number(r.resources) }));
  }

  async restoreSnapshot(name: string, dryRun = false): Promise<ImportSummary> {
    const row = (await this.deps.db('state_snapshots').where({ name }).first('document')) as { document: string } | undefined;
    if (!row) throw new AppError('not_found', `snapshot "${name}" does not exist`);
    return this.importState(JSON.parse(row.document), 'replace', dryRun);
  }

  async deleteSnapshot(name: string): Promise<void> {
    const n = await this.deps.db('state_snapshots').where({ name }).delete();
    if (!n) throw new AppError('not_found', `snapshot "${name}" does not exist`);
  }

  /**
   * `--init FILE`: a state document (JSON with schema_version) or a seed YAML, merged in at
   * start-up so a persistent data dir keeps what it has; re-applying the same file changes nothing.
   */
  async applyInit(file: string, text: string): Promise<InitReport> {
    const { parse } = await import('yaml');
    let parsed: unknown;
    try {
      parsed = parse(text);
    } catch (err) {
      throw new AppError('invalid_value', `${file}: not JSON or YAML (${(err as Error).message.split('\n')[0]})`);
    }
    const isState = Boolean(parsed && typeof parsed === 'object' && 'schema_version' in parsed);
    const doc = isState ? parsed : seedToDocument(parsed, { nowMs: this.deps.clock.clock.now(), file });
    const summary = await this.importState(doc, 'merge', false);
    this.init = { applied: true, file, format: isState ? 'state' : 'seed', applied_at: new Date().toISOString(), summary };
    return this.init;
  }

  initReport(): InitReport {
    return this.init;
  }
}

const resourceCount = (doc: StateDocument) => doc.tables.environments.length + doc.tables.security_groups.length + doc.tables.vms.length + doc.tables.volumes.length;

export { normaliseRow };
