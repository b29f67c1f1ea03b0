import { imageExists, IMAGES } from '../catalogue.js';
import type { Ctx } from '../common/context.js';
import { checkIfMatch } from '../common/etag.js';
import { getRow, listRows, type ListQuery } from '../common/list.js';
import { pageJson, type Page, type PageTokens } from '../common/pagination.js';
import { refuseImmutableChanges } from '../common/immutable.js';
import { patchTags, writeTags } from '../common/tags.js';
import { isPostgres, isUniqueViolation, locked, nowIso, type Db, type Lock, type Q } from '../db.js';
import { AppError, invalidState, notFound } from '../errors.js';
import type { Bus } from '../events/bus.js';
import type { NewEvent } from '../events/event-log.js';
import { inTransaction } from '../events/unit-of-work.js';
import { newId } from '../ids.js';
import { alreadyDeleting, dispatchQuietly, environmentName, type Accepted } from '../lifecycle/async-resource.js';
import { beginOperation } from '../lifecycle/begin.js';
import { insertWithOperation } from '../operations/queries.js';
import { newOperation, retryAfterSeconds, type Dispatcher } from '../operations/submit.js';
import { operationEvent } from '../operations/events.js';
import { serializeOperation, type Operation, type OperationRow } from '../operations/schema.js';
import { checkSimulationTags } from '../simulation/plan.js';
import { makeRng } from '../simulation/rng.js';
import type { SimulationService } from '../simulation/service.js';
import type { VmCreate, VmPatch } from '../api.js';
import { firstCandidate, pickAddress } from './ip.js';
import { getVmWithRelations, loadVmRelations, relationColumns, splitRelations, vmJsonSqlite } from './relations.js';
import { serializeVm, type Vm, type VmRow } from './schema.js';

export type { Accepted };

export interface VmServiceDeps {
  db: Db;
  bus: Bus;
  dispatcher: Dispatcher;
  simulation: SimulationService;
  pageTokens: PageTokens;
}

const nameTaken = (name: string) => new AppError('already_exists', `a VM named "${name}" already exists in this environment`);
const isAddressClash = (err: unknown) => isUniqueViolation(err) && /private_ip/.test(`${(err as Error).message} ${(err as { constraint?: string }).constraint ?? ''}`);

export const MAX_ADDRESS_ATTEMPTS = 20;

/**
 * What a failed VM create attempt means. Two creates picked the same address at once: the unique
 * index refused one, so pick again — and if that keeps happening, say so, rather than blaming the
 * name. A duplicate name is the other unique index.
 */
export function afterCreateConflict(err: unknown, attempt: number, name: string, nameUsed = false): 'retry' | unknown {
  if (nameUsed) return nameTaken(name);
  if (isAddressClash(err)) {
    if (attempt < MAX_ADDRESS_ATTEMPTS) return 'retry';
    return new AppError('unavailable', `no free address could be taken after ${MAX_ADDRESS_ATTEMPTS} tries: too many VMs are being created in this environment at once; retry shortly`, { retryAfter: 1 });
  }
  if (isUniqueViolation(err)) return nameTaken(name);
  return err;
}

export async function requireEnv(db: Q, ctx: Ctx, id: string, probeIp?: string): Promise<{ id: string; name: string; cidr: string; ipTaken?: unknown }> {
  const query = db('environments').where({ id, project_id: ctx.projectId }).select('id', 'name', 'cidr');
  // The address probe rides along as a subquery (an index lookup): one statement instead of two.
  if (probeIp !== undefined) query.select(db('vms').where({ environment_id: id, private_ip: probeIp }).select('id').limit(1).as('ip_taken'));
  const env = (await locked(db, query.first(), 'share')) as { id: string; name: string; cidr: string; ip_taken?: unknown } | undefined;
  if (!env) {
    throw new AppError('invalid_value', `environment ${id} does not exist`, {
      errors: [{ path: '/body/environment_id', message: `environment ${id} does not exist`, code: 'not_found' }],
    });
  }
  return { id: env.id, name: env.name, cidr: env.cidr, ipTaken: env.ip_taken };
}

/** Security groups must exist and live in the VM's environment. */
async function checkSecurityGroups(db: Q, ctx: Ctx, environmentId: string, ids: string[]): Promise<void> {
  if (new Set(ids).size !== ids.length) {
    throw new AppError('invalid_value', 'security_group_ids lists a group twice', {
      errors: [{ path: '/body/security_group_ids', message: 'duplicate id', code: 'duplicate' }],
    });
  }
  if (!ids.length) return;
  // Share-locked: a group deleted concurrently either waits for this VM (and then refuses, it is in
  // use) or is gone before we look (and this create is refused with 422).
  const rows = (await locked(db, db('security_groups').whereIn('id', ids).andWhere('project_id', ctx.projectId).select('id', 'environment_id'), 'share')) as {
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

// Moved to core/operations/events.ts; kept here for callers that still import it from the VM service.
export { operationEvent } from '../operations/events.js';

export class VmService {
  private readonly envHints = new Map<string, { name: string; cidr: string }>();

  constructor(private readonly deps: VmServiceDeps) {}

  private rememberEnv(env: { id: string; name: string; cidr: string }): void {
    if (this.envHints.size >= 1000 && !this.envHints.has(env.id)) this.envHints.clear();
    this.envHints.set(env.id, { name: env.name, cidr: env.cidr });
  }

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
          // The environment's name and CIDR key the seeded address; remembered from the last create
          // in it, they let the first probe go with the environment read. A renamed environment
          // only costs the separate probe.
          const hint = this.envHints.get(input.environment_id);
          const guess = hint && firstCandidate(hint.cidr, rng, [hint.name, input.name, attempt]);
          const env = await requireEnv(trx, ctx, input.environment_id, guess);
          this.rememberEnv(env);
          await checkSecurityGroups(trx, ctx, env.id, sgIds);
          const guessed = guess !== undefined && hint!.name === env.name && hint!.cidr === env.cidr;
          const ip = guessed && !env.ipTaken ? guess : await pickAddress(trx, env.id, env.cidr, rng, [env.name, input.name, attempt], guessed ? 1 : 0);
          const at = nowIso();
          const id = newId('vm');
          const tags = input.tags ?? {};
          const op = await newOperation(
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
            operation_id: op.id,
            error_code: null,
            error_message: null,
            tags: JSON.stringify(tags),
            created_at: at,
            updated_at: at,
          };
          await insertWithOperation(trx, op, 'vms', row);
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
        // A duplicate name may clash on the address first (the seeded pick repeats per name), so a
        // clash on an address whose name is taken is the name's fault.
        const nameUsed = isAddressClash(err) && !!(await this.deps.db('vms').where({ environment_id: input.environment_id, name: input.name }).first('id'));
        const next = afterCreateConflict(err, attempt, input.name, nameUsed);
        if (next === 'retry') continue;
        throw next;
      }
    }
  }

  private dispatch(opId: string): Promise<void> {
    return dispatchQuietly(this.deps.dispatcher, opId);
  }

  async list(ctx: Ctx, q: ListQuery): Promise<Page<Vm>> {
    const db = this.deps.db;
    const { rows, nextPageToken } = await listRows<VmRow>(db, 'vms', ctx.projectId, q, this.deps.pageTokens, (query) => query.select(db.raw(relationColumns(db))));
    return {
      items: rows.map((r) => {
        const { row, rel } = splitRelations(r);
        return serializeVm(row, rel);
      }),
      next_page_token: nextPageToken,
    };
  }

  /** The page as JSON text (what JSON.stringify(await list(…)) gives); on SQLite, SQLite writes each VM. */
  async listJson(ctx: Ctx, q: ListQuery): Promise<string> {
    const db = this.deps.db;
    if (isPostgres(db)) return JSON.stringify(await this.list(ctx, q));
    const { rows, nextPageToken } = await listRows<{ id: string; created_at: string; json: string }>(db, 'vms', ctx.projectId, q, this.deps.pageTokens, (query) =>
      query.clearSelect().select('vms.id', 'vms.created_at', db.raw(`${vmJsonSqlite()} as json`)),
    );
    return pageJson(rows.map((r) => r.json), nextPageToken);
  }

  private async row(db: Q, ctx: Ctx, id: string, lock?: Lock): Promise<VmRow> {
    const row = await getRow<VmRow>(db, 'vms', ctx.projectId, id, lock);
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
        // Locked, so the If-Match and "size needs stopped" checks still hold when we write.
        const row = await this.row(trx, ctx, id, 'update');
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
    return (await alreadyDeleting(this.deps.db, row, () => vmSnapshot(this.deps.db, row))) ?? this.act(ctx, id, 'vm.delete', ifMatch);
  }

  async action(ctx: Ctx, id: string, verb: 'start' | 'stop' | 'reboot'): Promise<Accepted<Vm>> {
    return this.act(ctx, id, `vm.${verb}`);
  }

  private async act(ctx: Ctx, id: string, kind: 'vm.delete' | 'vm.start' | 'vm.stop' | 'vm.reboot', ifMatch?: string): Promise<Accepted<Vm>> {
    const settings = await this.deps.simulation.get();
    const result = await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
      const row = await this.row(trx, ctx, id, 'update');
      if (ifMatch !== undefined) checkIfMatch(ifMatch, await vmSnapshot(trx, row));
      const op = await beginOperation(trx, ctx, settings, row, { kind, environmentName: await environmentName(trx, row.environment_id) });
      const vm = await vmSnapshot(trx, (await trx<VmRow>('vms').where({ id }).first())!);
      emit(vmEvent(ctx, vm, 'vm.status', op));
      emit(operationEvent(op));
      return { resource: vm, operation: serializeOperation(op), retryAfter: retryAfterSeconds(op) };
    });
    await this.dispatch(result.operation.id);
    return result;
  }
}
