import type { Db, Q } from '../db.js';
import type { EventRow } from './event-log.js';

// Reads of the event log for SSE, and its retention. Stores know nothing of HTTP or of streams.

export interface EventFilter {
  projectId: string;
  resourceIds?: string[];
  environmentId?: string;
  /** Matches an operation kind (vm.create), an event type (vm.status) or a resource type (vm). */
  kind?: string;
}

/** The same predicate as `readRange`'s WHERE clause, for rows the shared tail reader already holds. */
export function matches(f: EventFilter, r: EventRow): boolean {
  if (r.project_id !== f.projectId) return false;
  if (f.resourceIds?.length && !f.resourceIds.includes(r.resource_id)) return false;
  if (f.environmentId && r.environment_id !== f.environmentId) return false;
  if (f.kind && r.kind !== f.kind && r.type !== f.kind && r.resource_type !== f.kind) return false;
  return true;
}

/** Every project's events after `afterSeq`, in order: the one query the shared tail reader runs. */
export async function readTail(db: Q, afterSeq: number, limit: number): Promise<EventRow[]> {
  return db<EventRow>('events').where('seq', '>', afterSeq).orderBy('seq').limit(limit);
}

/** One stream's events in (afterSeq, throughSeq], for a resumed stream catching up on its own. */
export async function readRange(db: Q, f: EventFilter, afterSeq: number, throughSeq: number, limit: number): Promise<EventRow[]> {
  const q = db<EventRow>('events').where('project_id', f.projectId).andWhere('seq', '>', afterSeq).andWhere('seq', '<=', throughSeq);
  if (f.resourceIds?.length) q.whereIn('resource_id', f.resourceIds);
  if (f.environmentId) q.andWhere('environment_id', f.environmentId);
  if (f.kind) {
    const kind = f.kind;
    q.andWhere((w) => w.where('kind', kind).orWhere('type', kind).orWhere('resource_type', kind));
  }
  return q.orderBy('seq').limit(limit);
}

/** Every event up to this seq may have been dropped by retention. */
export async function prunedThrough(db: Q): Promise<number> {
  const row = (await db('events_retention').where({ id: 1 }).first('pruned_through')) as { pruned_through: number | string } | undefined;
  return Number(row?.pruned_through ?? 0);
}

export interface LogBounds {
  prunedThrough: number;
  /** The newest seq ever handed out that anyone could have seen (pruned ones included). */
  newest: number;
}

export async function logBounds(db: Q): Promise<LogBounds> {
  const [pruned, max] = await Promise.all([
    prunedThrough(db),
    db('events').max({ m: 'seq' }).first() as Promise<{ m: number | string | null } | undefined>,
  ]);
  return { prunedThrough: pruned, newest: Math.max(pruned, Number(max?.m ?? 0)) };
}

/**
 * Drops events created before `cutoffIso`, a slice at a time so no single statement holds the
 * database (on SQLite, the only connection) for long. Each slice raises `pruned_through` in the same
 * transaction as its delete, so a reader never sees events gone without the mark that says so.
 */
export async function pruneEvents(db: Db, cutoffIso: string, slice = 5000): Promise<number> {
  let removed = 0;
  for (;;) {
    const n = await db.transaction(async (trx) => {
      // The slice is the oldest `slice` expired events by seq; its highest seq becomes the mark.
      const oldest = trx('events').select('seq').where('created_at', '<', cutoffIso).orderBy('seq').limit(slice).as('s');
      const row = (await trx.from(oldest).max({ m: 'seq' }).first()) as { m: number | string | null } | undefined;
      if (row?.m == null) return 0;
      const through = Number(row.m);
      const deleted = await trx('events').where('created_at', '<', cutoffIso).andWhere('seq', '<=', through).delete();
      await trx('events_retention').where({ id: 1 }).andWhere('pruned_through', '<', through).update({ pruned_through: through });
      return deleted;
    });
    removed += n;
    if (n < slice) break;
    await new Promise((r) => setImmediate(r));
  }
  return removed;
}
