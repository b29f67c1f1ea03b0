import type { ResourceKind } from '../lifecycle/kind.js';
import { TABLES } from '../lifecycle/machine.js';
import type { OperationParams } from '../operations/schema.js';
import { serializeVolume, type VolumeRow } from './schema.js';
import { volumeEvent } from './service.js';

/** Statuses in which a volume is bound to a VM. */
const ATTACHED = new Set(['attaching', 'in-use', 'detaching']);

export const volumeKind: ResourceKind<VolumeRow> = {
  resource: 'volume',
  table: TABLES.volume,
  async events(db, rows, type, opOf, finished) {
    const opIds = finished ? [] : rows.map((r) => r.operation_id).filter((x): x is string => !!x);
    const ops = opIds.length ? ((await db('operations').whereIn('id', opIds).select('id', 'progress')) as { id: string; progress: number }[]) : [];
    const progress = new Map(ops.map((o) => [o.id, o.progress]));
    return rows.map((r) =>
      volumeEvent({ projectId: r.project_id }, serializeVolume(r, (r.operation_id ? progress.get(r.operation_id) : undefined) ?? 100), type, opOf(r)),
    );
  },
  // A detached volume, or an attach that failed, has no attachment.
  landingFields: (status) => (status === 'available' ? { vm_id: null, device: null } : {}),
  async vet(trx, op, outcome) {
    if (op.kind !== 'volume.attach' || outcome.status !== 'succeeded') return outcome;
    const { vm_id } = JSON.parse(op.params) as OperationParams;
    const vm = (await trx('vms').where({ id: vm_id }).first('status')) as { status: string } | undefined;
    if (vm && vm.status !== 'deleting') return outcome;
    return {
      status: 'failed',
      progress: op.progress,
      message: 'failed: the VM went away',
      error: { code: 'vm_gone', message: `VM ${vm_id} was deleted while the volume was attaching` },
    };
  },
  // The VM was deleted while an attach or detach was in flight: its delete already set the volume
  // free, so whatever the operation's outcome, the volume is available, not in-use on nothing.
  async reconcile(trx, row, status) {
    if (!ATTACHED.has(status)) return status;
    const vm = row.vm_id ? await trx('vms').where({ id: row.vm_id }).first('id') : undefined;
    return vm ? status : 'available';
  },
};
