import type { Q } from '../db.js';
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
