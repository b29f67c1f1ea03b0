import type { Ctx } from '../common/context.js';
import { paginate, type Page, type PageTokens } from '../common/pagination.js';
import type { Db } from '../db.js';
import { notFound } from '../errors.js';
import { serializeOperation, type Operation, type OperationRow } from './schema.js';

export interface OperationQuery {
  limit?: number;
  pageToken?: string;
  resourceId?: string;
  kind?: string;
  status?: string;
  environmentId?: string;
}

export class OperationService {
  constructor(private readonly deps: { db: Db; pageTokens: PageTokens }) {}

  async get(ctx: Ctx, id: string): Promise<Operation> {
    const row = await this.deps.db<OperationRow>('operations').where({ id, project_id: ctx.projectId }).first();
    if (!row) throw notFound('operation', id);
    return serializeOperation(row);
  }

  async list(ctx: Ctx, q: OperationQuery): Promise<Page<Operation>> {
    const query = this.deps.db('operations').select('operations.*').where('project_id', ctx.projectId);
    if (q.resourceId) query.andWhere('resource_id', q.resourceId);
    if (q.kind) query.andWhere('kind', q.kind);
    if (q.status) query.andWhere('status', q.status);
    if (q.environmentId) query.andWhere('environment_id', q.environmentId);
    const scope = { collection: 'operations', projectId: ctx.projectId, filters: { resource_id: q.resourceId, kind: q.kind, status: q.status, environment_id: q.environmentId } };
    const { rows, nextPageToken } = await paginate<OperationRow>(query, 'operations', { limit: q.limit, pageToken: q.pageToken, tokens: this.deps.pageTokens, scope });
    return { items: rows.map(serializeOperation), next_page_token: nextPageToken };
  }
}
