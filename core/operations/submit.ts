import type { Ctx } from '../common/context.js';
import type { Q } from '../db.js';
import { nowIso } from '../db.js';
import { newId } from '../ids.js';
import { MACHINE, type OperationKind } from '../lifecycle/machine.js';
import { planOperation, type Plan } from '../simulation/plan.js';
import { makeRng } from '../simulation/rng.js';
import type { SimulationSettings } from '../simulation/settings.js';
import { insertOperation } from './queries.js';
import type { OperationParams, OperationRow } from './schema.js';

/** Hands a committed operation to the workers (RabbitMQ or the in-process queue). */
export interface Dispatcher {
  dispatch(operationId: string): Promise<void>;
}

export interface Submission {
  kind: OperationKind;
  resourceId: string;
  resourceName: string;
  environmentId: string;
  environmentName: string;
  tags: Record<string, string>;
  params?: OperationParams;
}

/**
 * Records a new operation, with its simulated plan, inside the caller's transaction. The caller
 * dispatches it after the commit; if that message is lost the reconciler finds the operation anyway.
 */
export async function recordOperation(trx: Q, ctx: Ctx, s: Submission, settings: SimulationSettings): Promise<OperationRow> {
  const row = await newOperation(trx, ctx, s, settings);
  await insertOperation(trx, row);
  return row;
}

/** The row recordOperation writes, for a caller that inserts it together with its resource. */
export async function newOperation(trx: Q, ctx: Ctx, s: Submission, settings: SimulationSettings): Promise<OperationRow> {
  const ordinal = MACHINE[s.kind].isCreate
    ? 0
    : Number(((await trx('operations').where({ resource_id: s.resourceId }).count({ n: '*' })) as { n: number | string }[])[0]!.n);
  const plan: Plan = planOperation({
    kind: s.kind,
    settings,
    rng: makeRng(settings.seed),
    key: [s.environmentName, s.resourceName, s.kind, ordinal],
    tags: s.tags,
    // A chaos rule matched the request that started this (decided now, so it replays with the plan).
    forced: ctx.forcedFailure,
  });
  const at = nowIso();
  const row: OperationRow = {
    id: newId('op'),
    project_id: ctx.projectId,
    kind: s.kind,
    resource_type: MACHINE[s.kind].resource,
    resource_id: s.resourceId,
    environment_id: s.environmentId,
    status: 'pending',
    progress: 0,
    message: 'queued',
    error_code: null,
    error_message: null,
    params: JSON.stringify(s.params ?? {}),
    plan: JSON.stringify(plan),
    created_at: at,
    updated_at: at,
    started_at: null,
    finished_at: null,
    started_ms: null,
    lease_owner: null,
    lease_expires_ms: null,
    attempts: 0,
  };
  return row;
}

/** A polite polling interval for Retry-After: about a tenth of the expected duration, 1–10 s. */
export const retryAfterSeconds = (row: OperationRow) => {
  const plan = JSON.parse(row.plan ?? '{"duration_ms":0}') as Plan;
  return Math.min(10, Math.max(1, Math.ceil((plan.duration_ms * (plan.time_scale ?? 1)) / 10_000)));
};
