import type { Q } from '../db.js';
import type { SecurityGroupRow } from './schema.js';

export const insertSecurityGroup = (db: Q, row: SecurityGroupRow) => db('security_groups').insert(row);

export const updateSecurityGroup = (db: Q, id: string, fields: Partial<SecurityGroupRow>) =>
  db('security_groups').where({ id }).update(fields);

export const deleteSecurityGroup = (db: Q, id: string) => db('security_groups').where({ id }).delete();

export async function vmsUsingGroup(db: Q, id: string): Promise<{ id: string; type: string }[]> {
  const rows = (await db('vm_security_groups').where({ security_group_id: id }).select('vm_id').limit(100)) as { vm_id: string }[];
  return rows.map((r) => ({ id: r.vm_id, type: 'vm' }));
}
