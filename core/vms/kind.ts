import { volumeKind } from '../volumes/kind.js';
import type { ResourceKind } from '../lifecycle/kind.js';
import { TABLES } from '../lifecycle/machine.js';
import { vmEvent } from './service.js';
import { loadVmRelations } from './relations.js';
import { serializeVm, type VmRow } from './schema.js';

export const vmKind: ResourceKind<VmRow> = {
  resource: 'vm',
  table: TABLES.vm,
  async events(db, rows, type, opOf, finished) {
    // A VM without a current operation shows progress 100, which is what a finished one shows.
    const rel = await loadVmRelations(db, finished ? rows.map((r) => ({ ...r, operation_id: null })) : rows);
    return rows.map((r) => vmEvent({ projectId: r.project_id }, serializeVm(r, rel.get(r.id)!), type, opOf(r)));
  },
  landingFields: () => ({}),
  // Deleting a VM detaches its volumes (SPEC §3): they return to available.
  async beforeDelete(trx, row, at, emit) {
    const vols = await trx('volumes').where({ vm_id: row.id });
    if (vols.length) {
      const fields = { ...volumeKind.landingFields('available'), status: 'available', updated_at: at };
      await trx('volumes').where({ vm_id: row.id }).update(fields);
      for (const e of await volumeKind.events(trx, vols.map((v) => ({ ...v, ...fields })), 'volume.status', () => undefined)) emit(e);
    }
    await trx('vm_security_groups').where({ vm_id: row.id }).delete();
  },
};
