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

  /**
   * Resolves once the record is committed. Records that arrive while an insert is on its way are
   * written together in the next one (group commit): every mutating request leaves one, and an
   * insert (on PostgreSQL a round trip and a commit) per request was a tenth of a create's cost.
   */
  record(row: Omit<AuditRow, 'id' | 'created_at'>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ row: { ...row, id: newId('aud'), created_at: new Date().toISOString() }, resolve, reject });
      // Started on the next turn of the event loop, so the responses finished in this one share it.
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.write());
      }
    });
  }

  private readonly waiting: { row: AuditRow; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing = false;

  private async write(): Promise<void> {
    try {
      while (this.waiting.length) {
        // 13 columns × 500 rows stays below SQLite's limit on bound parameters.
        const batch = this.waiting.splice(0, 500);
        try {
          await this.db('audit_events').insert(batch.map((b) => b.row));
          for (const b of batch) b.resolve();
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.reject(err);
            continue;
          }
          // One bad record (say, a field too long for PostgreSQL) must not cost the others theirs.
          for (const b of batch) {
            await this.db('audit_events')
              .insert(b.row)
              .then(() => b.resolve(), b.reject);
          }
        }
      }
    } finally {
      this.writing = false;
    }
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
