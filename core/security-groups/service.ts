import type { Ctx } from '../common/context.js';
import { getRow, isForeignKeyViolation, listRows, type ListQuery } from '../common/list.js';
import type { Page, PageTokens } from '../common/pagination.js';
import { deleteSync, updateSync, type SyncKind } from '../common/sync-resource.js';
import { writeTags } from '../common/tags.js';
import { isUniqueViolation, locked, nowIso, type Db, type Lock, type Q } from '../db.js';
import { AppError, notFound, validationFailed } from '../errors.js';
import type { Bus } from '../events/bus.js';
import { inTransaction } from '../events/unit-of-work.js';
import { newId } from '../ids.js';
import * as queries from './queries.js';
import { ruleErrors } from './rules.js';
import {
  serializeSecurityGroup,
  type CreateSecurityGroup,
  type PatchSecurityGroup,
  type SecurityGroup,
  type SecurityGroupRow,
} from './schema.js';

const nameTaken = (name: string) => new AppError('already_exists', `a security group named "${name}" already exists in this environment`);

export class SecurityGroupService {
  constructor(private readonly deps: { db: Db; bus: Bus; pageTokens: PageTokens }) {}

  async create(ctx: Ctx, input: CreateSecurityGroup): Promise<SecurityGroup> {
    const rules = input.rules ?? [];
    const errors = ruleErrors(rules);
    if (errors.length) throw validationFailed(errors);
    const at = nowIso();
    const row: SecurityGroupRow = {
      id: newId('sg'),
      project_id: ctx.projectId,
      environment_id: input.environment_id,
      name: input.name,
      description: input.description ?? '',
      rules: JSON.stringify(rules),
      tags: JSON.stringify(input.tags ?? {}),
      created_at: at,
      updated_at: at,
    };
    const sg = serializeSecurityGroup(row);
    try {
      await inTransaction(this.deps.db, this.deps.bus, async (trx, emit) => {
        await requireEnvironment(trx, ctx, input.environment_id);
        await queries.insertSecurityGroup(trx, row);
        await writeTags(trx, row.id, sg.tags, true);
        emit(event(ctx, 'security_group.created', sg));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(input.name);
      // The environment was deleted between our check and the insert.
      if (isForeignKeyViolation(err)) throw missingEnvironment(input.environment_id);
      throw err;
    }
    return sg;
  }

  async list(ctx: Ctx, q: ListQuery): Promise<Page<SecurityGroup>> {
    const { rows, nextPageToken } = await listRows<SecurityGroupRow>(this.deps.db, 'security_groups', ctx.projectId, { ...q, status: undefined }, this.deps.pageTokens);
    return { items: rows.map(serializeSecurityGroup), next_page_token: nextPageToken };
  }

  async get(ctx: Ctx, id: string, db: Q = this.deps.db, lock?: Lock): Promise<SecurityGroup> {
    const row = await getRow<SecurityGroupRow>(db, 'security_groups', ctx.projectId, id, lock);
    if (!row) throw notFound('security group', id);
    return serializeSecurityGroup(row);
  }

  async update(ctx: Ctx, id: string, patch: PatchSecurityGroup, ifMatch?: string): Promise<SecurityGroup> {
    if (patch.rules) {
      const errors = ruleErrors(patch.rules);
      if (errors.length) throw validationFailed(errors);
    }
    return updateSync(this.deps, this.kind, ctx, id, patch, ifMatch);
  }

  async delete(ctx: Ctx, id: string, ifMatch?: string): Promise<void> {
    return deleteSync(this.deps, this.kind, ctx, id, ifMatch);
  }

  private readonly kind: SyncKind<SecurityGroup, PatchSecurityGroup> = {
    type: 'security_group',
    get: (ctx, id, db, lock) => this.get(ctx, id, db, lock),
    immutable: { fields: ['environment_id'], hint: 'create the group in the other environment' },
    apply: (current, patch, tags, at) => ({
      ...current,
      name: patch.name ?? current.name,
      description: patch.description ?? current.description,
      rules: patch.rules ?? current.rules,
      tags,
      updated_at: at,
    }),
    write: (trx, next) =>
      queries.updateSecurityGroup(trx, next.id, { name: next.name, description: next.description, rules: JSON.stringify(next.rules), tags: JSON.stringify(next.tags), updated_at: next.updated_at }),
    nameTaken,
    // A VM being created with this group holds a share lock on it: the delete waits for it, then sees it here.
    dependents: queries.vmsUsingGroup,
    blocked: inUse,
    remove: queries.deleteSecurityGroup,
    event,
  };
}

export async function requireEnvironment(db: Q, ctx: Ctx, environmentId: string): Promise<void> {
  const env = await locked(db, db('environments').where({ id: environmentId, project_id: ctx.projectId }).first('id'), 'share');
  if (!env) throw missingEnvironment(environmentId);
}

const missingEnvironment = (id: string) =>
  new AppError('invalid_value', `environment ${id} does not exist`, {
    errors: [{ path: '/body/environment_id', message: `environment ${id} does not exist`, code: 'not_found' }],
  });

const inUse = (id: string, dependents: { id: string; type: string }[]) =>
  new AppError('dependency_violation', `security group ${id} is used by ${dependents.map((d) => d.id).join(', ')}; detach it from them first`, {
    dependents,
  });

const event = (ctx: Ctx, type: string, sg: SecurityGroup) => ({
  projectId: ctx.projectId,
  type,
  resourceType: 'security_group',
  resourceId: sg.id,
  environmentId: sg.environment_id,
  data: sg,
});
