import type { Q } from '../db.js';
import { nowIso } from '../db.js';
import { deleteTags } from '../common/tags.js';
import type { NewEvent } from '../events/event-log.js';
import { KINDS } from '../kinds.js';
import { operationEvent } from '../operations/events.js';
import { finishOperation, finishSucceeded } from '../operations/queries.js';
import type { OperationRow } from '../operations/schema.js';
import type { Plan } from '../simulation/plan.js';
import type { KindRow, Outcome } from './kind.js';
import { MACHINE, isOperationKind } from './machine.js';

export type { Outcome } from './kind.js';

/** The outcome the plan prescribes, once its time has come. */
export function outcomeOf(plan: Plan): Outcome {
  if (plan.outcome === 'succeed') return { status: 'succeeded', error: null, progress: 100, message: 'done' };
  return { status: 'failed', error: plan.error, progress: Math.floor(plan.fail_at * 100), message: `failed: ${plan.error?.message ?? 'error'}` };
}

const closedOp = (op: OperationRow, o: Outcome, at: string): OperationRow => ({
  ...op,
  status: o.status,
  progress: o.progress,
  message: o.message,
  error_code: o.error?.code ?? null,
  error_message: o.error?.message ?? null,
  updated_at: at,
  finished_at: at,
});

/**
 * Ends an operation and applies its effect on the resource, in the caller's transaction. The
 * conditional finish (lease holder, still running) makes this happen exactly once even when two
 * workers race after a lease expired; the loser gets false and changes nothing. What the effect is
 * comes from the machine (where the resource lands) and the kind (what goes with it).
 */
export async function completeOperation(trx: Q, owner: string, op: OperationRow, outcome: Outcome, emit: (e: NewEvent) => void): Promise<boolean> {
  if (!isOperationKind(op.kind)) throw new Error(`unknown operation kind ${op.kind}`);
  const t = MACHINE[op.kind];
  const kind = KINDS[t.resource];
  const at = nowIso();
  const final = kind.vet ? await kind.vet(trx, op, outcome) : outcome;

  const closed = await finishOperation(
    trx,
    op.id,
    owner,
    { status: final.status, progress: final.progress, message: final.message, error_code: final.error?.code ?? null, error_message: final.error?.message ?? null },
    at,
  );
  if (!closed) return false;
  emit(operationEvent(closedOp(op, final, at), `operation.${final.status}`));

  // Only touch the resource if this operation is still its current one.
  const resource = (await trx(kind.table).where({ id: op.resource_id, operation_id: op.id }).first()) as KindRow | undefined;
  if (!resource) return true;
  const opOf = () => op;

  if (final.status === 'succeeded' && t.success === null) {
    await kind.beforeDelete?.(trx, resource, at, emit);
    await trx(kind.table).where({ id: op.resource_id }).delete();
    await deleteTags(trx, op.resource_id);
    for (const e of await kind.events(trx, [{ ...resource, status: 'deleted', updated_at: at } as KindRow], `${t.resource}.deleted`, opOf)) emit(e);
    return true;
  }

  const planned = final.status === 'succeeded' ? t.success! : t.failure;
  const status = kind.reconcile ? await kind.reconcile(trx, resource, planned) : planned;
  const fields: Record<string, unknown> = { status, updated_at: at, ...kind.landingFields(status) };
  if (status === 'error') {
    fields.error_code = final.error?.code ?? 'provisioning_failed';
    fields.error_message = final.error?.message ?? '';
  }
  await trx(kind.table).where({ id: op.resource_id }).update(fields);
  for (const e of await kind.events(trx, [{ ...resource, ...fields } as KindRow], `${t.resource}.status`, opOf)) emit(e);
  return true;
}

export interface Completion {
  op: OperationRow;
  outcome: Outcome;
}

// Successful operations whose only effect is a new status on their resource: the bulk of the work
// (creates, start/stop/reboot, detach). They are finished set-based — a handful of statements for a
// whole batch instead of ~6 round trips each. Deletes, attaches and failures keep the careful
// per-operation path above. A kind with `reconcile` must not list here an operation whose landing
// it may correct: detach lands `available`, which needs no correcting.
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
    emit(operationEvent(closedOp(c.op, { status: 'succeeded', progress: 100, message: 'done', error: null }, at), 'operation.succeeded'));
  }
  // Group by (kind, landing status): one UPDATE each, guarded so only resources whose current
  // operation is the finished one move.
  const groups = new Map<string, Completion[]>();
  for (const c of finished) {
    const t = MACHINE[c.op.kind as keyof typeof MACHINE];
    const key = `${t.resource}:${t.success}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const [key, items] of groups) {
    const [resource, status] = key.split(':') as [keyof typeof KINDS, string];
    const kind = KINDS[resource];
    const fields: Record<string, unknown> = { status, updated_at: at, ...kind.landingFields(status) };
    const resourceIds = items.map((c) => c.op.resource_id);
    const opIds = items.map((c) => c.op.id);
    const rows = (await trx(kind.table).whereIn('id', resourceIds).whereIn('operation_id', opIds).update(fields).returning('*')) as KindRow[];
    // RETURNING gives rows in no promised order; events keep the batch's (completion) order.
    const order = new Map(resourceIds.map((id, i) => [id, i]));
    rows.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    const byOp = new Map(items.map((c) => [c.op.id, c.op]));
    for (const e of await kind.events(trx, rows, `${resource}.status`, (r) => byOp.get(r.operation_id!), true)) emit(e);
  }
  return closed;
}
