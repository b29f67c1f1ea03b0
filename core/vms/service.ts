import { imageExists, IMAGES } from '../catalogue.js';
import type { Ctx } from '../common/context.js';
import { checkIfMatch } from '../common/etag.js';
import { getRow, listRows, type ListQuery } from '../common/list.js';
import type { Page } from '../common/pagination.js';
import { refuseImmutableChanges } from '../common/immutable.js';
import { patchTags, writeTags } from '../common/tags.js';
import { isUniqueViolation, nowIso, type Db, type Q } from '../db.js';
import { AppError, invalidState, notFound } from '../errors.js';
import type { Bus } from '../events/bus.js';
import type { NewEvent } from '../events/event-log.js';
import { inTransaction } from '../events/unit-of-work.js';
import { newId } from '../ids.js';
import { beginOperation } from '../lifecycle/begin.js';
import { recordOperation, retryAfterSeconds, type Dispatcher } from '../operations/submit.js';
import { serializeOperation, type Operation, type OperationRow } from '../operations/schema.js';
import { checkSimulationTags } from '../simulation/plan.js';
import { makeRng } from '../simulation/rng.js';
import type { SimulationService } from '../simulation/service.js';
import type { VmCreate, VmPatch } from '../api.js';
import { pickAddress } from './ip.js';
import { getVmWithRelations, loadVmRelations, relationColumns, splitRelations } from './relations.js';
import { serializeVm, type Vm, type VmRow } from './schema.js';

export interface Accepted<T> {
  resource: T;
  operation: Operation;
  retryAfter: number;
}

export interface VmServiceDeps {
  db: Db;
  bus: Bus;
  dispatcher: Dispatcher;
  simulation: SimulationService;
}

const nameTaken = (name: string) => new AppError('already_exists', `a VM named "${name}" already exists in this environment`);
const isAddressClash = (err: unknown) => isUniqueViolation(err) && /private_ip/.test(`${(err as Error).message} ${(err as { constraint?: string }).constraint ?? ''}`);

export async function requireEnv(db: Q, ctx: Ctx, id: string): Promise<{ id: string; name: string; cidr: string }> {
  const env = (await db('environments').where({ id, project_id: ctx.projectId }).first('id', 'name', 'cidr')) as
    | { id: string; name: string; cidr: string }
    | undefined;
  if (!env) {
    throw new AppError('invalid_value', `environment ${id} does not exist`, {
      errors: [{ path: '/body/environment_id', message: `environment ${id} does not exist`, code: 'not_found' }],
    });
  }
  return env;
}

/** Security groups must exist and live in the VM's environment. */
async function checkSecurityGroups(db: Q, ctx: Ctx, environmentId: string, ids: string[]): Promise<void> {
  if (new Set(ids).size !== ids.length) {
    throw new AppError('invalid_value', 'security_group_ids lists a group twice', {
      errors: [{ path: '/body/security_group_ids', message: 'duplicate id', code: 'duplicate' }],
    });
  }
  if (!ids.length) return;
  const rows = (await db('security_groups').whereIn('id', ids).andWhere('project_id', ctx.projectId).select('id', 'environment_id')) as {
    id: string;
    environment_id: string;
  }[];
  const found = new Map(rows.map((r) => [r.id, r.environment_id]));
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length) {
    throw new AppError('invalid_value', `security group(s) ${missing.join(', ')} do not exist`, {
      errors: missing.map((id) => ({ path: '/body/security_group_ids', message: `${id} does not exist`, code: 'not_found' })),
    });
  }
  const foreign = ids.filter((id) => found.get(id) !== environmentId);
  if (foreign.length) {
    throw new AppError('environment_mismatch', `security group(s) ${foreign.join(', ')} belong to another environment than ${environmentId}`);
  }
}

async function writeSecurityGroups(db: Q, vmId: string, ids: string[], fresh = false): Promise<void> {
  if (!fresh) await db('vm_security_groups').where({ vm_id: vmId }).delete();
  if (ids.length) await db('vm_security_groups').insert(ids.map((sg, position) => ({ vm_id: vmId, security_group_id: sg, position })));
}

export async function vmSnapshot(db: Q, row: VmRow): Promise<Vm> {
  return serializeVm(row, (await loadVmRelations(db, [row])).get(row.id)!);
}

export const vmEvent = (ctx: { projectId: string }, vm: Vm, type = 'vm.status', op?: OperationRow): NewEvent => ({
  projectId: ctx.projectId,
  type,
  resourceType: 'vm',
  resourceId: vm.id,
  environmentId: vm.environment_id,
  operationId: op?.id ?? vm.operation_id,
  kind: op?.kind ?? null,
  data: vm,
});

export const operationEvent = (op: OperationRow, type = 'operation.progress'): NewEvent => ({
  projectId: op.project_id,
  type,
  resourceType: op.resource_type,
  resourceId: op.resource_id,
  environmentId: op.environment_id,
  operationId: op.id,
  kind: op.kind,
  data: serializeOperation(op),
});

export class VmService {
  constructor(private readonly deps: VmServiceDeps) {}

  async create(ctx: Ctx, input: VmCreate): Promise<Accepted<Vm>> {
    if (!imageExists(input.image)) {
      throw new AppError('invalid_value', `image "${input.image}" is not in the catalogue (${IMAGES.map((i) => i.name).join(', ')})`, {
        errors: [{ path: '/body/image', message: 'unknown image; see GET /api/v1/images', code: 'not_found' }],
      });
    }
    checkSimulationTags(input.tags);
    const settings = await this.deps.simulation.get();
    const rng = makeRng(settings.seed);
    const sgIds = input.security_group_ids ?? [];
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
          const env = await requireEnv(trx, ctx, input.environment_id);
          await checkSecurityGroups(trx, ctx, env.id, sgIds);
          const ip = await pickAddress(trx, env.id, env.cidr, rng, [env.name, input.name, attempt]);
          const at = nowIso();
          const id = newId('vm');
          const tags = input.tags ?? {};
          const op = await recordOperation(
            trx,
            ctx,
            { kind: 'vm.create', resourceId: id, resourceName: input.name, environmentId: env.id, environmentName: env.name, tags },
            settings,
          );
          const row: VmRow = {
            id,
            project_id: ctx.projectId,
            environment_id: env.id,
            name: input.name,
            size: input.size,
            image: input.image,
            private_ip: ip,
            status: 'creating',
            progress: 0,
            operation_id: op.id,
            error_code: null,
            error_message: null,
            tags: JSON.stringify(tags),
            created_at: at,
            updated_at: at,
          };
          await trx('vms').insert(row);
          await writeSecurityGroups(trx, id, sgIds, true);
          await writeTags(trx, id, tags, true);
          const vm = serializeVm(row, { securityGroupIds: sgIds, attachedVolumeIds: [], progress: 0 });
          emit(vmEvent(ctx, vm, 'vm.status', op));
          emit(operationEvent(op));
          return { resource: vm, operation: serializeOperation(op), retryAfter: retryAfterSeconds(op) };
        });
        await this.dispatch(result.operation.id);
        return result;
      } catch (err) {
        // Two creates picked the same address at once: the unique index refused one; pick again.
        if (isAddressClash(err) && attempt < 20) continue;
        if (isUniqueViolation(err)) throw nameTaken(input.name);
        throw err;
      }
    }
  }

  private async dispatch(opId: string): Promise<void> {
    // Committed already: a failed publish only delays the operation until the reconciler finds it.
    await this.deps.dispatcher.dispatch(opId).catch(() => undefined);
  }

  async list(ctx: Ctx, q: ListQuery): Promise<Page<Vm>> {
    const db = this.deps.db;
    const { rows, nextPageToken } = await listRows<VmRow>(db, 'vms', ctx.projectId, q, (query) => query.select(db.raw(relationColumns(db))));
    return {
      items: rows.map((r) => {
        const { row, rel } = splitRelations(r);
        return serializeVm(row, rel);
      }),
      next_page_token: nextPageToken,
    };
  }

  private async row(db: Q, ctx: Ctx, id: string): Promise<VmRow> {
    const row = await getRow<VmRow>(db, 'vms', ctx.projectId, id);
    if (!row) throw notFound('VM', id);
    return row;
  }

  async get(ctx: Ctx, id: string): Promise<Vm> {
    const found = await getVmWithRelations(this.deps.db, ctx.projectId, id);
    if (!found) throw notFound('VM', id);
    return serializeVm(found.row, found.rel);
  }

  async update(ctx: Ctx, id: string, patch: VmPatch, ifMatch?: string): Promise<Vm> {
    checkSimulationTags(patch.tags ? (Object.fromEntries(Object.entries(patch.tags).filter(([, v]) => v !== null)) as Record<string, string>) : undefined);
    try {
      return await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
        const row = await this.row(trx, ctx, id);
        const current = await vmSnapshot(trx, row);
        checkIfMatch(ifMatch, current);
        refuseImmutableChanges(patch, current, ['image', 'environment_id'], 'create a new VM');
        if (patch.size !== undefined && patch.size !== current.size && current.status !== 'stopped') {
          throw invalidState(`VM ${id}`, current.status, 'change its size (stop it first)');
        }
        if (patch.security_group_ids) {
          await checkSecurityGroups(trx, ctx, current.environment_id, patch.security_group_ids);
          await writeSecurityGroups(trx, id, patch.security_group_ids);
        }
        const tags = patchTags(current.tags, patch.tags);
        const fields = { name: patch.name ?? current.name, size: patch.size ?? current.size, tags: JSON.stringify(tags), updated_at: nowIso() };
        await trx('vms').where({ id }).update(fields);
        if (patch.tags !== undefined) await writeTags(trx, id, tags);
        const next = await vmSnapshot(trx, { ...row, ...fields });
        emit(vmEvent(ctx, next, 'vm.updated'));
        return next;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(patch.name ?? '');
      throw err;
    }
  }

  /** DELETE is idempotent: a VM already deleting answers 202 again with its delete operation. */
  async delete(ctx: Ctx, id: string, ifMatch?: string): Promise<Accepted<Vm>> {
    const row = await this.row(this.deps.db, ctx, id);
    if (row.status === 'deleting' && row.operation_id) {
      const op = (await this.deps.db<OperationRow>('operations').where({ id: row.operation_id }).first())!;
      return { resource: await vmSnapshot(this.deps.db, row), operation: serializeOperation(op), retryAfter: retryAfterSeconds(op) };
    }
    return this.act(ctx, id, 'vm.delete', ifMatch);
  }

  async action(ctx: Ctx, id: string, verb: 'start' | 'stop' | 'reboot'): Promise<Accepted<Vm>> {
    return this.act(ctx, id, `vm.${verb}`);
  }

  private async act(ctx: Ctx, id: string, kind: 'vm.delete' | 'vm.start' | 'vm.stop' | 'vm.reboot', ifMatch?: string): Promise<Accepted<Vm>> {
    const settings = await this.deps.simulation.get();
    const result = await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
      const row = await this.row(trx, ctx, id);
      if (ifMatch !== undefined) checkIfMatch(ifMatch, await vmSnapshot(trx, row));
      const env = (await trx('environments').where({ id: row.environment_id }).first('name')) as { name: string };
      const op = await beginOperation(trx, ctx, settings, row, { kind, environmentName: env.name });
      const vm = await vmSnapshot(trx, (await trx<VmRow>('vms').where({ id }).first())!);
      emit(vmEvent(ctx, vm, 'vm.status', op));
      emit(operationEvent(op));
      return { resource: vm, operation: serializeOperation(op), retryAfter: retryAfterSeconds(op) };
    });
    await this.dispatch(result.operation.id);
    return result;
  }
}
