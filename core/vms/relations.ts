import { isPostgres, type Q } from '../db.js';
import { idleSqlite } from '../sqlite-fast-path.js';
import type { VmRelations, VmRow } from './schema.js';

/** Security groups (in the order given), attached volumes (by device) and progress, for many VMs at once. */
export async function loadVmRelations(db: Q, rows: VmRow[]): Promise<Map<string, VmRelations>> {
  const out = new Map<string, VmRelations>();
  if (!rows.length) return out;
  const ids = rows.map((r) => r.id);
  const opIds = rows.map((r) => r.operation_id).filter((x): x is string => !!x);
  // Sequential on purpose: `db` is often a transaction, i.e. one connection, which cannot run
  // queries side by side (pg queues them and warns).
  const sgs = await db('vm_security_groups').whereIn('vm_id', ids).orderBy(['vm_id', 'position']).select('vm_id', 'security_group_id');
  const vols = await db('volumes').whereIn('vm_id', ids).orderBy(['vm_id', 'device']).select('vm_id', 'id');
  const ops = opIds.length ? await db('operations').whereIn('id', opIds).select('id', 'progress') : [];
  const progress = new Map((ops as { id: string; progress: number }[]).map((o) => [o.id, o.progress]));
  for (const r of rows) out.set(r.id, { securityGroupIds: [], attachedVolumeIds: [], progress: r.operation_id ? (progress.get(r.operation_id) ?? 100) : 100 });
  for (const s of sgs as { vm_id: string; security_group_id: string }[]) out.get(s.vm_id)!.securityGroupIds.push(s.security_group_id);
  for (const v of vols as { vm_id: string; id: string }[]) out.get(v.vm_id)!.attachedVolumeIds.push(v.id);
  return out;
}

/**
 * The relations as three columns of the VM query itself (correlated subqueries, each an index
 * lookup): GET /vms/{id} and list pages read a VM and its relations in one statement instead of
 * four, where the extra statements (and knex's cost for a 100-id IN list) were most of the
 * request (docs/performance.md). Read back with splitRelations.
 */
export function relationColumns(db: Q, alias = 'vms'): string {
  return isPostgres(db) ? relationColumnsFor('pg', alias) : relationColumnsFor('sqlite', alias);
}

const columnsCache = new Map<string, string>();
function relationColumnsFor(dialect: 'pg' | 'sqlite', alias: string): string {
  const key = `${dialect}:${alias}`;
  let sql = columnsCache.get(key);
  if (sql !== undefined) return sql;
  const list = (column: string, table: string, order: string) =>
    dialect === 'pg'
      ? `(select coalesce(json_agg(${column} order by ${order}), '[]'::json) from ${table} where vm_id = ${alias}.id)`
      : `(select json_group_array(${column}) from (select ${column} from ${table} where vm_id = ${alias}.id order by ${order}))`;
  sql = `${list('security_group_id', 'vm_security_groups', 'position')} as rel_sgs, ${list('id', 'volumes', 'device')} as rel_vols,
    (select o.progress from operations o where o.id = ${alias}.operation_id) as rel_progress`;
  columnsCache.set(key, sql);
  return sql;
}

type WithRelations = VmRow & { rel_sgs: string | string[]; rel_vols: string | string[]; rel_progress: number | null };

// SQLite hands JSON back as text, PostgreSQL's json as parsed values. Most VMs have no groups or
// volumes: '[]' needs no parser.
const idList = (v: string | string[]): string[] => (typeof v !== 'string' ? v : v === '[]' ? [] : (JSON.parse(v) as string[]));

/** The relation columns read back. The row keeps them (serializeVm reads only its own fields): no copy per row of a page. */
export function splitRelations(found: VmRow): { row: VmRow; rel: VmRelations } {
  const r = found as WithRelations;
  return {
    row: found,
    rel: { securityGroupIds: idList(r.rel_sgs), attachedVolumeIds: idList(r.rel_vols), progress: r.operation_id ? (r.rel_progress ?? 100) : 100 },
  };
}

/**
 * SQLite only: a VM's representation as JSON text, written by SQLite itself — byte for byte what
 * JSON.stringify(serializeVm(row, rel)) gives (json_quote escapes exactly as JSON.stringify does;
 * the stored tags are JSON.stringify's text, json() keeps them as they are). A page of 100 VMs read
 * as objects made ~1,500 JavaScript values, and making them was most of a list request's CPU;
 * this is one string per VM, and nothing to serialise afterwards (docs/performance.md).
 * test/api/read-paths.test.ts compares the two byte for byte.
 */
export function vmJsonSqlite(alias = 'vms'): string {
  const key = `json:${alias}`;
  let sql = columnsCache.get(key);
  if (sql !== undefined) return sql;
  const q = (column: string) => `json_quote(${alias}.${column})`;
  const list = (column: string, table: string, order: string) =>
    `(select json_group_array(${column}) from (select ${column} from ${table} where vm_id = ${alias}.id order by ${order}))`;
  const progress = `(case when coalesce(${alias}.operation_id, '') = '' then 100 else coalesce((select o.progress from operations o where o.id = ${alias}.operation_id), 100) end)`;
  const error = `(case when ${alias}.status = 'error' and coalesce(${alias}.error_code, '') <> '' then '{"code":' || ${q('error_code')} || ',"message":' || json_quote(coalesce(${alias}.error_message, '')) || '}' else 'null' end)`;
  const fields: [string, string][] = [
    ['id', q('id')],
    ['name', q('name')],
    ['environment_id', q('environment_id')],
    ['size', q('size')],
    ['image', q('image')],
    ['security_group_ids', list('security_group_id', 'vm_security_groups', 'position')],
    ['private_ip', q('private_ip')],
    ['status', q('status')],
    ['progress', progress],
    ['operation_id', q('operation_id')],
    ['error', error],
    ['attached_volume_ids', list('id', 'volumes', 'device')],
    ['tags', `json(${alias}.tags)`],
    ['created_at', q('created_at')],
    ['updated_at', q('updated_at')],
  ];
  sql = fields.map(([name, expr], i) => `'${i ? ',' : '{'}"${name}":' || ${expr}`).join(' || ') + ` || '}'`;
  columnsCache.set(key, sql);
  return sql;
}

// No LIMIT: the id is the primary key. knex's `.first()` would add `limit ?`, and SQLite (3.53,
// STAT4) re-plans a statement whose LIMIT is a bound parameter every time it is bound — for this
// statement with its three subqueries that was most of its cost (~20 of ~25 µs per execution).
const ONE_VM_SQLITE = `select vms.*, ${relationColumnsFor('sqlite', 'vms')} from vms where vms.id = ? and vms.project_id = ?`;

/** One VM with its relations in a single statement. */
export async function getVmWithRelations(db: Q, projectId: string, id: string): Promise<{ row: VmRow; rel: VmRelations } | undefined> {
  const conn = idleSqlite(db);
  const found = conn
    ? (conn.prepare(ONE_VM_SQLITE).get(id, projectId) as VmRow | undefined)
    : ((await db('vms').select('vms.*', db.raw(relationColumns(db))).where({ 'vms.id': id, 'vms.project_id': projectId })) as VmRow[])[0];
  return found ? splitRelations(found) : undefined;
}
