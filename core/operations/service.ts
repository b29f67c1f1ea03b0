import type { Ctx } from '../common/context.js';
import { paginate, type Page } from '../common/pagination.js';
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
  constructor(private readonly deps: { db: Db }) {}

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
    const { rows, nextPageToken } = await paginate<OperationRow>(query, 'operations', { limit: q.limit, pageToken: q.pageToken });
    return { items: rows.map(serializeOperation), next_page_token: nextPageToken };
  }

  /**
   * Resolves once the operation has ended (succeeded or failed), or with undefined at the deadline.
   * Polls the record (the same on every replica and stack) with a short, growing interval: it backs
   * `Prefer: wait`, which clients use a few times per apply, not a hot path.
   */
  async waitUntilDone(ctx: Ctx, id: string, timeoutMs: number): Promise<Operation | undefined> {
    const deadline = Date.now() + timeoutMs;
    let every = 20;
    for (;;) {
      const row = await this.deps.db<OperationRow>('operations').where({ id, project_id: ctx.projectId }).first();
      if (!row) throw notFound('operation', id);
      if (row.status === 'succeeded' || row.status === 'failed') return serializeOperation(row);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise((r) => setTimeout(r, Math.min(every, left)));
      every = Math.min(every * 1.5, 500);
    }
  }
}
