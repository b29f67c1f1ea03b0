import type { Q } from '../db.js';
import { AppError } from '../errors.js';
import type { Plan } from '../simulation/plan.js';
import type { StoredSimulation } from '../simulation/settings.js';

// The state document (GET|POST /admin/state, snapshots, --init): the record's rows by table, the
// simulation settings and the clock. Rows travel as stored, so a document is the same whichever
// store wrote it (PostgreSQL and SQLite rows differ only in number/boolean spelling, normalised
// here), and IDs, tags and plans come back exactly.

export const STATE_SCHEMA_VERSION = 2;

/** Tables in foreign-key order: parents first (import), reversed for deletes. */
export const STATE_TABLES = ['projects', 'environments', 'security_groups', 'vms', 'vm_security_groups', 'volumes', 'operations'] as const;
export type StateTable = (typeof STATE_TABLES)[number];

export type Row = Record<string, unknown>;

export interface StateDocument {
  schema_version: number;
  exported_at: string;
  simulation: StoredSimulation;
  clock: { now_ms: number; time_scale: number; paused: boolean };
  tables: Record<StateTable, Row[]>;
}

/** The key that identifies a row of each table. */
export const rowKey = (table: StateTable, r: Row): string =>
  table === 'vm_security_groups' ? `${String(r.vm_id)}/${String(r.security_group_id)}` : String(r.id);

// Columns that are numbers on one store and strings (bigint) or 0/1 (boolean) on the other.
const NUMERIC = new Set(['progress', 'size_gb', 'started_ms', 'lease_expires_ms', 'attempts', 'dispatched_ms', 'position']);

export function normaliseRow(r: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) out[k] = v !== null && NUMERIC.has(k) ? Number(v) : v;
  return out;
}

/** Reads one table's rows in the document's order (stable: by key). */
export async function exportTable(db: Q, table: StateTable): Promise<Row[]> {
  let q = db(table).select('*');
  if (table === 'operations') q = q.whereIn('status', ['pending', 'running']);
  q = table === 'vm_security_groups' ? q.orderBy(['vm_id', 'position']) : q.orderBy('id');
  return ((await q) as Row[]).map((r) => {
    const n = normaliseRow(r);
    // Leases belong to the exporting deployment's workers; the importer dispatches afresh.
    if (table === 'operations') Object.assign(n, { lease_owner: null, lease_expires_ms: null, dispatched_ms: null });
    return n;
  });
}

type Migrator = (doc: Record<string, unknown>) => Record<string, unknown>;

/**
 * Older documents are brought forward one version at a time. Version 1 predates the simulated
 * clock: it has no `clock`, and plan durations were wall milliseconds already multiplied by
 * time_scale (and started_ms wall time, which equals simulated time at the anchor).
 */
const MIGRATIONS: Record<number, Migrator> = {
  1: (doc) => {
    const tables = doc.tables as Record<string, Row[]>;
    const sim = doc.simulation as StoredSimulation;
    const scale = sim?.time_scale ?? 1;
    const ops = (tables.operations ?? []).map((op) => {
      const plan = JSON.parse(String(op.plan ?? 'null')) as Plan | null;
      if (!plan) return op;
      const duration_ms = scale > 0 ? Math.round(plan.duration_ms / scale) : 0;
      return { ...op, plan: JSON.stringify({ ...plan, duration_ms, time_scale: scale }) };
    });
    const exported = Date.parse(String(doc.exported_at)) || Date.now();
    return { ...doc, schema_version: 2, clock: { now_ms: exported, time_scale: scale, paused: false }, tables: { ...tables, operations: ops } };
  },
};

/** Checks a document's shape and migrates it to the current version, or refuses it (422). */
export function upgradeDocument(input: unknown): StateDocument {
  const bad = (detail: string, path = '/body') => new AppError('invalid_value', detail, { errors: [{ path, message: detail, code: 'invalid_document' }] });
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw bad('a state document is a JSON object');
  let doc = input as Record<string, unknown>;
  const version = doc.schema_version;
  if (typeof version !== 'number' || !Number.isInteger(version)) throw bad('schema_version is missing; is this a mockcloud state document?', '/body/schema_version');
  if (version > STATE_SCHEMA_VERSION || version < 1) {
    throw bad(`schema_version ${version} is not supported: this mockcloud reads versions 1 to ${STATE_SCHEMA_VERSION}${version > STATE_SCHEMA_VERSION ? ' (the document is from a newer mockcloud)' : ''}`, '/body/schema_version');
  }
  for (let v = version; v < STATE_SCHEMA_VERSION; v++) doc = MIGRATIONS[v]!(doc);
  const tables = doc.tables as Record<string, unknown> | undefined;
  if (!tables || typeof tables !== 'object') throw bad('tables is missing', '/body/tables');
  for (const t of Object.keys(tables)) {
    if (!(STATE_TABLES as readonly string[]).includes(t)) throw bad(`unknown table "${t}" (known: ${STATE_TABLES.join(', ')})`, `/body/tables/${t}`);
    if (!Array.isArray(tables[t]) || !(tables[t] as unknown[]).every((r) => r && typeof r === 'object' && !Array.isArray(r))) throw bad(`tables.${t} must be a list of objects`, `/body/tables/${t}`);
  }
  const full = Object.fromEntries(STATE_TABLES.map((t) => [t, ((tables[t] as Row[] | undefined) ?? []).map(normaliseRow)])) as Record<StateTable, Row[]>;
  for (const t of STATE_TABLES) {
    for (const [i, r] of full[t].entries()) {
      if (t === 'vm_security_groups' ? !r.vm_id || !r.security_group_id : typeof r.id !== 'string' || !r.id) throw bad(`tables.${t}[${i}] has no id`, `/body/tables/${t}/${i}`);
    }
  }
  return { ...(doc as unknown as StateDocument), tables: full };
}
