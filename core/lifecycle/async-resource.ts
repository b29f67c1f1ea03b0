import type { Q } from '../db.js';
import { retryAfterSeconds, type Dispatcher } from '../operations/submit.js';
import { serializeOperation, type Operation, type OperationRow } from '../operations/schema.js';

// Steps every asynchronous resource's service shares, written once.

export interface Accepted<T> {
  resource: T;
  operation: Operation;
  retryAfter: number;
}

/** Hands a committed operation to the workers. A failed publish only delays it until the reconciler finds it. */
export async function dispatchQuietly(dispatcher: Dispatcher, opId: string): Promise<void> {
  await dispatcher.dispatch(opId).catch(() => undefined);
}

/** DELETE is idempotent: a resource already deleting answers 202 again with its delete operation. */
export async function alreadyDeleting<T>(
  db: Q,
  row: { status: string; operation_id: string | null },
  snapshot: () => Promise<T>,
): Promise<Accepted<T> | undefined> {
  if (row.status !== 'deleting' || !row.operation_id) return undefined;
  const op = (await db<OperationRow>('operations').where({ id: row.operation_id }).first())!;
  return { resource: await snapshot(), operation: serializeOperation(op), retryAfter: retryAfterSeconds(op) };
}

/** The environment's name, which keys the seeded plan of an operation. */
export async function environmentName(db: Q, environmentId: string): Promise<string> {
  return ((await db('environments').where({ id: environmentId }).first('name')) as { name: string }).name;
}
