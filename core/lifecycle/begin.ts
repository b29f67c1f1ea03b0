import type { Ctx } from '../common/context.js';
import type { Q } from '../db.js';
import { nowIso } from '../db.js';
import { invalidState } from '../errors.js';
import { recordOperation, type Submission } from '../operations/submit.js';
import type { OperationRow } from '../operations/schema.js';
import type { SimulationSettings } from '../simulation/settings.js';
import { MACHINE, TABLES } from './machine.js';

export interface Current {
  id: string;
  name: string;
  status: string;
  environment_id: string;
  tags: string;
}

/**
 * Starts an action on an existing resource: checks the state machine, records the operation and
 * moves the resource into its transitional state with a conditional UPDATE, so of many concurrent
 * requests exactly one wins and the rest get 409 invalid_state.
 */
export async function beginOperation(
  trx: Q,
  ctx: Ctx,
  settings: SimulationSettings,
  current: Current,
  s: Pick<Submission, 'kind' | 'environmentName' | 'params'>,
  extra: Record<string, unknown> = {},
): Promise<OperationRow> {
  const t = MACHINE[s.kind];
  const table = TABLES[t.resource];
  const verb = s.kind.split('.')[1]!;
  if (!t.from?.includes(current.status)) throw invalidState(`${t.resource} ${current.id}`, current.status, verb);
  const op = await recordOperation(
    trx,
    ctx,
    {
      ...s,
      resourceId: current.id,
      resourceName: current.name,
      environmentId: current.environment_id,
      tags: JSON.parse(current.tags) as Record<string, string>,
    },
    settings,
  );
  const n = await trx(table)
    .where({ id: current.id })
    .whereIn('status', t.from)
    .update({ status: t.during, operation_id: op.id, updated_at: nowIso(), ...extra });
  if (n !== 1) {
    const now = (await trx(table).where({ id: current.id }).first('status')) as { status: string } | undefined;
    throw invalidState(`${t.resource} ${current.id}`, now?.status ?? 'gone', verb);
  }
  return op;
}
