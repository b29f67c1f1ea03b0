import type { VolumeCreate, VolumePatch } from '../api.js';
import type { Ctx } from '../common/context.js';
import { checkIfMatch } from '../common/etag.js';
import { getRow, listRows, type ListQuery } from '../common/list.js';
import type { Page } from '../common/pagination.js';
import { refuseImmutableChanges } from '../common/immutable.js';
import { patchTags, writeTags } from '../common/tags.js';
import { isUniqueViolation, locked, nowIso, type Db, type Lock, type Q } from '../db.js';
import { AppError, invalidState, notFound } from '../errors.js';
import type { NewEvent } from '../events/event-log.js';
import { inTransaction } from '../events/unit-of-work.js';
import { newId } from '../ids.js';
import { alreadyDeleting, dispatchQuietly, environmentName } from '../lifecycle/async-resource.js';
import { beginOperation } from '../lifecycle/begin.js';
import { insertWithOperation } from '../operations/queries.js';
import { newOperation, retryAfterSeconds } from '../operations/submit.js';
import { serializeOperation, type OperationRow } from '../operations/schema.js';
import { checkSimulationTags } from '../simulation/plan.js';
import { operationEvent } from '../operations/events.js';
import { requireEnv, type Accepted, type VmServiceDeps } from '../vms/service.js';
import { DEVICES, serializeVolume, type Volume, type VolumeRow } from './schema.js';

const nameTaken = (name: string) => new AppError('already_exists', `a volume named "${name}" already exists in this environment`);

export async function volumeSnapshot(db: Q, row: VolumeRow): Promise<Volume> {
  const op = row.operation_id ? ((await db('operations').where({ id: row.operation_id }).first('progress')) as { progress: number } | undefined) : undefined;
  return serializeVolume(row, op?.progress ?? 100);
}

export const volumeEvent = (ctx: { projectId: string }, v: Volume, type = 'volume.status', op?: OperationRow): NewEvent => ({
  projectId: ctx.projectId,
  type,
  resourceType: 'volume',
  resourceId: v.id,
  environmentId: v.environment_id,
  operationId: op?.id ?? v.operation_id,
  kind: op?.kind ?? null,
  data: v,
});

export class VolumeService {
  constructor(private readonly deps: VmServiceDeps) {}

  async create(ctx: Ctx, input: VolumeCreate): Promise<Accepted<Volume>> {
    checkSimulationTags(input.tags);
    const settings = await this.deps.simulation.get();
    try {
      const result = await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
        const env = await requireEnv(trx, ctx, input.environment_id);
        const id = newId('vol');
        const tags = input.tags ?? {};
        const op = await newOperation(
          trx,
          ctx,
          { kind: 'volume.create', resourceId: id, resourceName: input.name, environmentId: env.id, environmentName: env.name, tags },
          settings,
        );
        const at = nowIso();
        const row: VolumeRow = {
          id,
          project_id: ctx.projectId,
          environment_id: env.id,
          name: input.name,
          size_gb: input.size_gb,
          type: input.type ?? 'standard',
          status: 'creating',
          operation_id: op.id,
          error_code: null,
          error_message: null,
          vm_id: null,
          device: null,
          tags: JSON.stringify(tags),
          created_at: at,
          updated_at: at,
        };
        await insertWithOperation(trx, op, 'volumes', row);
        await writeTags(trx, id, tags, true);
        const volume = serializeVolume(row, 0);
        emit(volumeEvent(ctx, volume, 'volume.status', op));
        emit(operationEvent(op));
        return { resource: volume, operation: serializeOperation(op), retryAfter: retryAfterSeconds(op) };
      });
      await this.dispatch(result.operation.id);
      return result;
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(input.name);
      throw err;
    }
  }

  private dispatch(opId: string): Promise<void> {
    return dispatchQuietly(this.deps.dispatcher, opId);
  }

  async list(ctx: Ctx, q: ListQuery): Promise<Page<Volume>> {
    const { rows, nextPageToken } = await listRows<VolumeRow>(this.deps.db, 'volumes', ctx.projectId, q, this.deps.pageTokens);
    const opIds = rows.map((r) => r.operation_id).filter((x): x is string => !!x);
    const ops = opIds.length ? ((await this.deps.db('operations').whereIn('id', opIds).select('id', 'progress')) as { id: string; progress: number }[]) : [];
    const progress = new Map(ops.map((o) => [o.id, o.progress]));
    return { items: rows.map((r) => serializeVolume(r, (r.operation_id ? progress.get(r.operation_id) : undefined) ?? 100)), next_page_token: nextPageToken };
  }

  private async row(db: Q, ctx: Ctx, id: string, lock?: Lock): Promise<VolumeRow> {
    const row = await getRow<VolumeRow>(db, 'volumes', ctx.projectId, id, lock);
    if (!row) throw notFound('volume', id);
    return row;
  }

  async get(ctx: Ctx, id: string): Promise<Volume> {
    return volumeSnapshot(this.deps.db, await this.row(this.deps.db, ctx, id));
  }

  async update(ctx: Ctx, id: string, patch: VolumePatch, ifMatch?: string): Promise<Volume> {
    checkSimulationTags(patch.tags ? (Object.fromEntries(Object.entries(patch.tags).filter(([, v]) => v !== null)) as Record<string, string>) : undefined);
    try {
      return await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
        const row = await this.row(trx, ctx, id, 'update');
        const current = await volumeSnapshot(trx, row);
        checkIfMatch(ifMatch, current);
        refuseImmutableChanges(patch, current, ['type', 'environment_id'], 'create a new volume');
        if (patch.size_gb !== undefined && patch.size_gb < current.size_gb) {
          throw new AppError('invalid_value', `volumes only grow: size_gb ${patch.size_gb} is smaller than the current ${current.size_gb}`, {
            errors: [{ path: '/body/size_gb', message: 'cannot shrink', code: 'invalid_value' }],
          });
        }
        const tags = patchTags(current.tags, patch.tags);
        const fields = { name: patch.name ?? current.name, size_gb: patch.size_gb ?? current.size_gb, tags: JSON.stringify(tags), updated_at: nowIso() };
        await trx('volumes').where({ id }).update(fields);
        if (patch.tags !== undefined) await writeTags(trx, id, tags);
        const next = await volumeSnapshot(trx, { ...row, ...fields });
        emit(volumeEvent(ctx, next, 'volume.updated'));
        return next;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(patch.name ?? '');
      throw err;
    }
  }

  async delete(ctx: Ctx, id: string, ifMatch?: string): Promise<Accepted<Volume>> {
    const row = await this.row(this.deps.db, ctx, id);
    const again = await alreadyDeleting(this.deps.db, row, () => volumeSnapshot(this.deps.db, row));
    if (again) return again;
    if (row.status === 'in-use') {
      throw new AppError('volume_in_use', `volume ${id} is attached to ${row.vm_id} as ${row.device}; detach it first`);
    }
    return this.act(ctx, id, 'volume.delete', ifMatch);
  }

  async attach(ctx: Ctx, id: string, vmId: string): Promise<Accepted<Volume>> {
    return this.act(ctx, id, 'volume.attach', undefined, vmId);
  }

  async detach(ctx: Ctx, id: string): Promise<Accepted<Volume>> {
    return this.act(ctx, id, 'volume.detach');
  }

  private async act(ctx: Ctx, id: string, kind: 'volume.delete' | 'volume.attach' | 'volume.detach', ifMatch?: string, vmId?: string): Promise<Accepted<Volume>> {
    const settings = await this.deps.simulation.get();
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
          const row = await this.row(trx, ctx, id, 'update');
          if (ifMatch !== undefined) checkIfMatch(ifMatch, await volumeSnapshot(trx, row));
          let extra: Record<string, unknown> = {};
          let params = {};
          if (kind === 'volume.attach') {
            const device = await this.checkAttach(trx, ctx, row, vmId!);
            extra = { vm_id: vmId, device };
            params = { vm_id: vmId, device };
          }
          const op = await beginOperation(trx, ctx, settings, row, { kind, environmentName: await environmentName(trx, row.environment_id), params }, extra);
          const volume = await volumeSnapshot(trx, (await trx<VolumeRow>('volumes').where({ id }).first())!);
          emit(volumeEvent(ctx, volume, 'volume.status', op));
          emit(operationEvent(op));
          return { resource: volume, operation: serializeOperation(op), retryAfter: retryAfterSeconds(op) };
        });
        await this.dispatch(result.operation.id);
        return result;
      } catch (err) {
        // Two volumes attaching to one VM took the same device at once; take the next one.
        if (kind === 'volume.attach' && isUniqueViolation(err) && attempt < 16) continue;
        throw err;
      }
    }
  }

  /** Attach rules (SPEC §3); returns the device the volume will get. */
  private async checkAttach(trx: Q, ctx: Ctx, vol: VolumeRow, vmId: string): Promise<string> {
    // Share-locked: the VM cannot start deleting or stopping until this attach has committed.
    const vm = (await locked(trx, trx('vms').where({ id: vmId, project_id: ctx.projectId }).first('id', 'status', 'environment_id'), 'share')) as
      | { id: string; status: string; environment_id: string }
      | undefined;
    if (!vm) throw notFound('VM', vmId);
    if (vm.environment_id !== vol.environment_id) {
      throw new AppError('environment_mismatch', `volume ${vol.id} is in ${vol.environment_id} but VM ${vmId} is in ${vm.environment_id}`);
    }
    if (vol.status !== 'available') throw invalidState(`volume ${vol.id}`, vol.status, 'attach');
    if (vm.status !== 'running') throw invalidState(`VM ${vmId}`, vm.status, 'attach a volume (it must be running)');
    const used = new Set(((await trx('volumes').where({ vm_id: vmId }).select('device')) as { device: string }[]).map((r) => r.device));
    const device = DEVICES.find((d) => !used.has(d));
    if (!device) throw invalidState(`VM ${vmId}`, 'full', `attach more than ${DEVICES.length} volumes`);
    return device;
  }
}
