import type { Db } from '../db.js';
import { paginate, type Page, type PageTokens } from '../common/pagination.js';
import { newId } from '../ids.js';
import { serializeAudit, type AuditRow } from './schema.js';

export type AuditEvent = ReturnType<typeof serializeAudit>;

export interface AuditQuery {
  limit?: number;
  pageToken?: string;
  actor?: string;
  tokenId?: string;
  operationId?: string;
  resourceId?: string;
  decision?: string;
}

/** The audit trail (SPEC §10): written by the HTTP access middleware, read per project. */
export class AuditLog {
  /** `pageTokens` only for list(); retention (the reconciler) needs none. */
  constructor(
    private readonly db: Db,
    private readonly pageTokens?: PageTokens,
  ) {}

  async record(row: Omit<AuditRow, 'id' | 'created_at'>): Promise<void> {
    await this.db('audit_events').insert({ ...row, id: newId('aud'), created_at: new Date().toISOString() });
  }

  async list(projectId: string, q: AuditQuery): Promise<Page<AuditEvent>> {
    const query = this.db('audit_events').select('audit_events.*').where('project_id', projectId);
    if (q.actor) query.andWhere('actor', q.actor);
    if (q.tokenId) query.andWhere('token_id', q.tokenId);
    if (q.operationId) query.andWhere('operation_id', q.operationId);
    if (q.resourceId) query.andWhere('resource_id', q.resourceId);
    if (q.decision) query.andWhere('decision', q.decision);
    const { rows, nextPageToken } = await paginate<AuditRow>(query, 'audit_events', {
      limit: q.limit,
      pageToken: q.pageToken,
      tokens: this.pageTokens!,
      scope: { collection: 'audit_events', projectId, filters: { actor: q.actor, token_id: q.tokenId, operation_id: q.operationId, resource_id: q.resourceId, decision: q.decision } },
    });
    return { items: rows.map(serializeAudit), next_page_token: nextPageToken };
  }

  /** Retention, as for operations and events: a slice at a time. */
  async prune(before: string): Promise<number> {
    let removed = 0;
    for (;;) {
      const old = this.db('audit_events').select('id').where('created_at', '<', before).limit(5000);
      const n = await this.db('audit_events').whereIn('id', old).delete();
      removed += n;
      if (n < 5000) return removed;
    }
  }
}
