import type { Q } from '../db.js';
import type { EnvironmentRow } from './schema.js';

export const insertEnvironment = (db: Q, row: EnvironmentRow) => db('environments').insert(row);

export const updateEnvironment = (db: Q, id: string, fields: Partial<EnvironmentRow>) =>
  db('environments').where({ id }).update(fields);

export const deleteEnvironment = (db: Q, id: string) => db('environments').where({ id }).delete();

/** Everything that still lives in the environment and so blocks its deletion. */
export async function environmentDependents(db: Q, id: string): Promise<{ id: string; type: string }[]> {
  // Sequential: `db` is usually the delete's transaction (one connection).
  const sgs = await db('security_groups').where({ environment_id: id }).select('id').orderBy('created_at').limit(100);
  const vms = await db('vms').where({ environment_id: id }).select('id').orderBy('created_at').limit(100);
  const vols = await db('volumes').where({ environment_id: id }).select('id').orderBy('created_at').limit(100);
  return [
    ...sgs.map((r: { id: string }) => ({ id: r.id, type: 'security_group' })),
    ...vms.map((r: { id: string }) => ({ id: r.id, type: 'vm' })),
    ...vols.map((r: { id: string }) => ({ id: r.id, type: 'volume' })),
  ];
}
