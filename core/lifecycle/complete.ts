import type { Q } from '../db.js';
import { nowIso } from '../db.js';
import { deleteTags } from '../common/tags.js';
import type { NewEvent } from '../events/event-log.js';
import { finishOperation } from '../operations/queries.js';
import type { OperationParams, OperationRow } from '../operations/schema.js';
import type { Plan } from '../simulation/plan.js';
import { vmEvent, vmSnapshot, operationEvent } from '../vms/service.js';
import type { VmRow } from '../vms/schema.js';
import { volumeEvent, volumeSnapshot } from '../volumes/service.js';
import type { VolumeRow } from '../volumes/schema.js';
import { MACHINE, isOperationKind } from './machine.js';

export interface Outcome {
  status: 'succeeded' | 'failed';
  error: { code: string; message: string } | null;
  progress: number;
  message: string;
}

/** The outcome the plan prescribes, once its time has come. */
export function outcomeOf(plan: Plan): Outcome {
  if (plan.outcome === 'succeed') return { status: 'succeeded', error: null, progress: 100, message: 'done' };
  return { status: 'failed', error: plan.error, progress: Math.floor(plan.fail_at * 100), message: `failed: ${plan.error?.message ?? 'error'}` };
}

/**
 * Ends an operation and applies its effect on the resource, in the caller's transaction. The
 * conditional finish (lease holder, still running) makes this happen exactly once even when two
 * workers race after a lease expired; the loser gets false and changes nothing.
 */
export async function completeOperation(trx: Q, owner: string, op: OperationRow, outcome: Outcome, emit: (e: NewEvent) => void): Promise<boolean> {
  if (!isOperationKind(op.kind)) throw new Error(`unknown operation kind ${op.kind}`);
  const t = MACHINE[op.kind];
  const at = nowIso();
  let final = outcome;
  const ctx = { projectId: op.project_id };

  // Effects that can turn success into failure are checked before the operation is closed.
  if (op.kind === 'volume.attach' && final.status === 'succeeded') {
    const params = JSON.parse(op.params) as OperationParams;
    const vm = (await trx('vms').where({ id: params.vm_id }).first('status')) as { status: string } | undefined;
    if (!vm || vm.status === 'deleting') {
      final = { status: 'failed', progress: op.progress, message: 'failed: the VM went away', error: { code: 'vm_gone', message: `VM ${params.vm_id} was deleted while the volume was attaching` } };
    }
  }

  const closed = await finishOperation(
    trx,
    op.id,
    owner,
    { status: final.status, progress: final.progress, message: final.message, error_code: final.error?.code ?? null, error_message: final.error?.message ?? null },
    at,
  );
  if (!closed) return false;
  emit(operationEvent({ ...op, status: final.status, progress: final.progress, message: final.message, error_code: final.error?.code ?? null, error_message: final.error?.message ?? null, updated_at: at, finished_at: at }, `operation.${final.status}`));

  const table = t.resource === 'vm' ? 'vms' : 'volumes';
  // Only touch the resource if this operation is still its current one.
  const resource = (await trx(table).where({ id: op.resource_id, operation_id: op.id }).first()) as (VmRow & VolumeRow) | undefined;
  if (!resource) return true;

  if (final.status === 'succeeded' && t.success === null) {
    if (t.resource === 'vm') {
      // Deleting a VM detaches its volumes: they return to available.
      const vols = (await trx<VolumeRow>('volumes').where({ vm_id: op.resource_id })) as VolumeRow[];
      if (vols.length) {
        await trx('volumes').where({ vm_id: op.resource_id }).update({ vm_id: null, device: null, status: 'available', updated_at: at });
        for (const v of vols) emit(volumeEvent(ctx, await volumeSnapshot(trx, { ...v, vm_id: null, device: null, status: 'available', updated_at: at })));
      }
      await trx('vm_security_groups').where({ vm_id: op.resource_id }).delete();
    }
    await trx(table).where({ id: op.resource_id }).delete();
    await deleteTags(trx, op.resource_id);
    const gone = { ...resource, status: 'deleted', updated_at: at };
    emit(t.resource === 'vm' ? vmEvent(ctx, await vmSnapshot(trx, gone), 'vm.deleted', op) : volumeEvent(ctx, await volumeSnapshot(trx, gone), 'volume.deleted', op));
    return true;
  }

  const status = final.status === 'succeeded' ? t.success! : t.failure;
  const fields: Record<string, unknown> = { status, updated_at: at };
  if (status === 'error') {
    fields.error_code = final.error?.code ?? 'provisioning_failed';
    fields.error_message = final.error?.message ?? '';
  }
  // A detached volume, or an attach that failed, has no attachment.
  if (t.resource === 'volume' && status === 'available') Object.assign(fields, { vm_id: null, device: null });
  await trx(table).where({ id: op.resource_id }).update(fields);
  const row = { ...resource, ...fields } as VmRow & VolumeRow;
  emit(t.resource === 'vm' ? vmEvent(ctx, await vmSnapshot(trx, row), 'vm.status', op) : volumeEvent(ctx, await volumeSnapshot(trx, row), 'volume.status', op));
  return true;
}
