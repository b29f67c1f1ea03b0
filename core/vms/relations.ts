import { isPostgres, type Q } from '../db.js';
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
 * One VM with its relations in a single statement: the read path of GET /vms/{id}, where the row
 * query plus loadVmRelations' three were most of the request's cost (docs/performance.md §1).
 */
export async function getVmWithRelations(db: Q, projectId: string, id: string): Promise<{ row: VmRow; rel: VmRelations } | undefined> {
  const pg = isPostgres(db);
  const list = (column: string, table: string, order: string) =>
    pg
      ? `(select coalesce(json_agg(${column} order by ${order}), '[]'::json) from ${table} where vm_id = v.id)`
      : `(select json_group_array(${column}) from (select ${column} from ${table} where vm_id = v.id order by ${order}))`;
  const rows = (await db.raw(
    `select v.*, ${list('security_group_id', 'vm_security_groups', 'position')} as rel_sgs, ${list('id', 'volumes', 'device')} as rel_vols,
       (select o.progress from operations o where o.id = v.operation_id) as rel_progress
     from vms v where v.id = ? and v.project_id = ?`,
    [id, projectId],
  )) as unknown;
  const found = (pg ? (rows as { rows: unknown[] }).rows : (rows as unknown[]))[0] as (VmRow & { rel_sgs: string | string[]; rel_vols: string | string[]; rel_progress: number | null }) | undefined;
  if (!found) return undefined;
  const { rel_sgs, rel_vols, rel_progress, ...row } = found;
  const parse = (v: string | string[]) => (typeof v === 'string' ? (JSON.parse(v) as string[]) : v);
  return {
    row,
    rel: { securityGroupIds: parse(rel_sgs), attachedVolumeIds: parse(rel_vols), progress: row.operation_id ? (rel_progress ?? 100) : 100 },
  };
}
