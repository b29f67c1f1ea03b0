import type { Knex } from 'knex';
import type { Q } from '../db.js';
import { nowIso } from '../db.js';
import { AppError } from '../errors.js';
import type { NewEvent } from '../events/event-log.js';
import type { OperationRow } from '../operations/schema.js';
import { operationEvent } from '../vms/service.js';
import type { ResetResult } from '../api.js';

// Reset of a scope (everything, a project, an environment), set-based so that thousands of
// resources go in a handful of statements. Children are deleted before parents (foreign keys), all
// in the caller's transaction: a reset is seen whole or not at all.

export interface ResetScope {
  project_id?: string;
  environment_id?: string;
}

/** What a reset removed: the API's ResetResult (openapi.yaml). */
export type ResetCounts = ResetResult;

/** The ids of the environments in scope, as a subquery. */
const envIds = (db: Q, scope: ResetScope) => {
  const q = db('environments').select('id');
  if (scope.environment_id) q.where({ id: scope.environment_id });
  if (scope.project_id) q.where({ project_id: scope.project_id });
  return q;
};

const inScope = (db: Q, table: string, scope: ResetScope): Knex.QueryBuilder => {
  const q = db(table);
  if (scope.environment_id || scope.project_id) q.whereIn('environment_id', envIds(db, scope));
  return q;
};

export async function checkScope(db: Q, scope: ResetScope): Promise<void> {
  if (scope.project_id && !(await db('projects').where({ id: scope.project_id }).first('id'))) {
    throw new AppError('not_found', `project ${scope.project_id} does not exist`);
  }
  if (scope.environment_id) {
    const env = (await db('environments').where({ id: scope.environment_id }).first('project_id')) as { project_id: string } | undefined;
    if (!env || (scope.project_id && env.project_id !== scope.project_id)) throw new AppError('not_found', `environment ${scope.environment_id} does not exist`);
  }
}

/**
 * Cancels the scope's operations in flight (failed, code `cancelled`, with their event) and deletes
 * its resources and operations. Engines still holding a cancelled operation find it gone when they
 * next write (their writes are conditional on the row), and drop it.
 */
export async function resetScope(trx: Q, scope: ResetScope, emit: (e: NewEvent) => void): Promise<ResetCounts> {
  const at = nowIso();
  const inflight = (await inScope(trx, 'operations', scope).whereIn('status', ['pending', 'running']).select('*')) as OperationRow[];
  for (const op of inflight) {
    emit(operationEvent({ ...op, status: 'failed', message: 'cancelled by reset', error_code: 'cancelled', error_message: 'the emulator was reset while this operation ran', updated_at: at, finished_at: at }, 'operation.failed'));
  }
  const ids = (table: string) => inScope(trx, table, scope).select('id');
  const scoped = Boolean(scope.environment_id || scope.project_id);
  // Tags of every resource in scope, then children before parents.
  for (const table of ['vms', 'volumes', 'security_groups']) await trx('resource_tags').whereIn('resource_id', ids(table)).delete();
  if (scoped) await trx('resource_tags').whereIn('resource_id', envIds(trx, scope)).delete();
  else await trx('resource_tags').whereIn('resource_id', trx('environments').select('id')).delete();
  const operations = await inScope(trx, 'operations', scope).delete();
  const volumes = await inScope(trx, 'volumes', scope).delete();
  await trx('vm_security_groups').whereIn('vm_id', ids('vms')).delete();
  const vms = await inScope(trx, 'vms', scope).delete();
  const securityGroups = await inScope(trx, 'security_groups', scope).delete();
  const envQ = trx('environments');
  if (scope.environment_id) envQ.where({ id: scope.environment_id });
  if (scope.project_id) envQ.where({ project_id: scope.project_id });
  const environments = await envQ.delete();
  if (!scoped) await trx('idempotency_keys').delete();
  const counts = { environments, security_groups: securityGroups, vms, volumes, operations, cancelled: inflight.length };
  emit({
    projectId: scope.project_id ?? 'default',
    type: 'emulator.reset', // not `reset`: that SSE event name means "your resume point is gone" (server/handlers/events.ts)
    resourceType: scope.environment_id ? 'environment' : 'project',
    resourceId: scope.environment_id ?? scope.project_id ?? '*',
    environmentId: scope.environment_id ?? null,
    data: { scope: { project_id: scope.project_id ?? null, environment_id: scope.environment_id ?? null }, deleted: counts, at },
  });
  return counts;
}
