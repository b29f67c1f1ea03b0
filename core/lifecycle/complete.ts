import type { Q } from '../db.js';
import { nowIso } from '../db.js';
import { deleteTags } from '../common/tags.js';
import type { NewEvent } from '../events/event-log.js';
import { finishOperation, finishSucceeded } from '../operations/queries.js';
import type { OperationParams, OperationRow } from '../operations/schema.js';
import type { Plan } from '../simulation/plan.js';
import { loadVmRelations } from '../vms/relations.js';
import { serializeVm } from '../vms/schema.js';
import { vmEvent, vmSnapshot, operationEvent } from '../vms/service.js';
import type { VmRow } from '../vms/schema.js';
import { volumeEvent, volumeSnapshot } from '../volumes/service.js';
import { serializeVolume, type VolumeRow } from '../volumes/schema.js';
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

export interface Completion {
  op: OperationRow;
  outcome: Outcome;
}

// Successful operations whose only effect is a new status on their resource: the bulk of the work
// (creates, start/stop/reboot, detach). They are finished set-based — a handful of statements for a
// whole batch instead of ~6 round trips each. Deletes, attaches and failures keep the careful
// per-operation path above.
const SIMPLE = new Set(['vm.create', 'vm.start', 'vm.stop', 'vm.reboot', 'volume.create', 'volume.detach']);

/** Completes a batch in the caller's transaction; returns the ids this worker actually closed. */
export async function completeOperations(trx: Q, owner: string, batch: Completion[], emit: (e: NewEvent) => void): Promise<Set<string>> {
  const closed = new Set<string>();
  const simple = batch.filter((c) => c.outcome.status === 'succeeded' && SIMPLE.has(c.op.kind));
  for (const c of batch) {
    if (simple.includes(c)) continue;
    if (await completeOperation(trx, owner, c.op, c.outcome, emit)) closed.add(c.op.id);
  }
  if (!simple.length) return closed;
  const at = nowIso();
  const done = await finishSucceeded(trx, simple.map((c) => c.op.id), owner, at);
  const finished = simple.filter((c) => done.has(c.op.id));
  for (const c of finished) {
    closed.add(c.op.id);
    emit(operationEvent({ ...c.op, status: 'succeeded', progress: 100, message: 'done', error_code: null, error_message: null, updated_at: at, finished_at: at }, 'operation.succeeded'));
  }
  // Group by (table, landing status): one UPDATE each, guarded so only resources whose current
  // operation is the finished one move.
  const groups = new Map<string, Completion[]>();
  for (const c of finished) {
    const t = MACHINE[c.op.kind as keyof typeof MACHINE];
    const key = `${t.resource}:${t.success}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const [key, items] of groups) {
    const [resource, status] = key.split(':') as ['vm' | 'volume', string];
    const table = resource === 'vm' ? 'vms' : 'volumes';
    const fields: Record<string, unknown> = { status, updated_at: at };
    if (resource === 'volume' && status === 'available') Object.assign(fields, { vm_id: null, device: null });
    const resourceIds = items.map((c) => c.op.resource_id);
    const opIds = items.map((c) => c.op.id);
    await trx(table).whereIn('id', resourceIds).whereIn('operation_id', opIds).update(fields);
    const rows = await trx(table).whereIn('id', resourceIds).whereIn('operation_id', opIds);
    if (resource === 'vm') {
      const rel = await loadVmRelations(trx, rows as VmRow[]);
      const byOp = new Map(items.map((c) => [c.op.id, c.op]));
      for (const r of rows as VmRow[]) emit(vmEvent({ projectId: r.project_id }, serializeVm(r, rel.get(r.id)!), 'vm.status', byOp.get(r.operation_id!)));
    } else {
      const byOp = new Map(items.map((c) => [c.op.id, c.op]));
      for (const r of rows as VolumeRow[]) emit(volumeEvent({ projectId: r.project_id }, serializeVolume(r, 100), 'volume.status', byOp.get(r.operation_id!)));
    }
  }
  return closed;
}
