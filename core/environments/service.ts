import type { Ctx } from '../common/context.js';
import { parseCidr } from '../common/cidr.js';
import { getRow, listRows, type ListQuery } from '../common/list.js';
import type { Page, PageTokens } from '../common/pagination.js';
import { deleteSync, updateSync, type SyncKind } from '../common/sync-resource.js';
import { writeTags } from '../common/tags.js';
import { isUniqueViolation, nowIso, type Db, type Lock, type Q } from '../db.js';
import { AppError, notFound, validationFailed } from '../errors.js';
import type { Bus } from '../events/bus.js';
import { inTransaction } from '../events/unit-of-work.js';
import { newId } from '../ids.js';
import * as queries from './queries.js';
import {
  DEFAULT_CIDR,
  MAX_PREFIX,
  MIN_PREFIX,
  serializeEnvironment,
  type CreateEnvironment,
  type Environment,
  type EnvironmentRow,
  type PatchEnvironment,
} from './schema.js';

const nameTaken = (name: string) => new AppError('already_exists', `an environment named "${name}" already exists`);

export class EnvironmentService {
  constructor(private readonly deps: { db: Db; bus: Bus; pageTokens: PageTokens }) {}

  async create(ctx: Ctx, input: CreateEnvironment): Promise<Environment> {
    const cidr = input.cidr ?? DEFAULT_CIDR;
    const parsed = parseCidr(cidr, MIN_PREFIX, MAX_PREFIX);
    if (typeof parsed === 'string') throw validationFailed([{ path: '/body/cidr', message: parsed, code: 'invalid_cidr' }]);
    const at = nowIso();
    const row: EnvironmentRow = {
      id: newId('env'),
      project_id: ctx.projectId,
      name: input.name,
      cidr,
      status: 'available',
      tags: JSON.stringify(input.tags ?? {}),
      created_at: at,
      updated_at: at,
    };
    const env = serializeEnvironment(row);
    try {
      await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
        await queries.insertEnvironment(trx, row);
        await writeTags(trx, row.id, env.tags, true);
        emit(event(ctx, 'environment.created', env));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(input.name);
      throw err;
    }
    return env;
  }

  async list(ctx: Ctx, q: ListQuery): Promise<Page<Environment>> {
    const { rows, nextPageToken } = await listRows<EnvironmentRow>(this.deps.db, 'environments', ctx.projectId, { ...q, environmentId: undefined }, this.deps.pageTokens);
    return { items: rows.map(serializeEnvironment), next_page_token: nextPageToken };
  }

  async get(ctx: Ctx, id: string, db: Q = this.deps.db, lock?: Lock): Promise<Environment> {
    const row = await getRow<EnvironmentRow>(db, 'environments', ctx.projectId, id, lock);
    if (!row) throw notFound('environment', id);
    return serializeEnvironment(row);
  }

  async update(ctx: Ctx, id: string, patch: PatchEnvironment, ifMatch?: string): Promise<Environment> {
    return updateSync(this.deps, this.kind, ctx, id, patch, ifMatch);
  }

  async delete(ctx: Ctx, id: string, ifMatch?: string): Promise<void> {
    return deleteSync(this.deps, this.kind, ctx, id, ifMatch);
  }

  private readonly kind: SyncKind<Environment, PatchEnvironment> = {
    type: 'environment',
    get: (ctx, id, db, lock) => this.get(ctx, id, db, lock),
    immutable: { fields: ['cidr'], hint: 'create a new environment' },
    apply: (current, patch, tags, at) => ({ ...current, name: patch.name ?? current.name, tags, updated_at: at }),
    write: (trx, next) => queries.updateEnvironment(trx, next.id, { name: next.name, tags: JSON.stringify(next.tags), updated_at: next.updated_at }),
    nameTaken,
    // A VM, volume or group being created holds a share lock on the environment: the delete waits for it, then sees it here.
    dependents: queries.environmentDependents,
    blocked,
    remove: queries.deleteEnvironment,
    event,
  };
}

const blocked = (id: string, dependents: { id: string; type: string }[]) =>
  new AppError(
    'dependency_violation',
    `environment ${id} still holds ${dependents.length} resource(s): ${dependents.map((d) => d.id).join(', ')}; delete them first`,
    { dependents },
  );

const event = (ctx: Ctx, type: string, env: Environment) => ({
  projectId: ctx.projectId,
  type,
  resourceType: 'environment',
  resourceId: env.id,
  environmentId: env.id,
  data: env,
});
