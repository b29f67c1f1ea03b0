import { isPostgres, type Q } from '../db.js';
import type { OperationRow } from './schema.js';

export const insertOperation = (db: Q, row: OperationRow) => db('operations').insert(row);

/**
 * Inserts a new resource row and the operation that creates it. On PostgreSQL one statement (a
 * data-modifying CTE: one round trip, not two); SQLite has no such CTE, so there it is two.
 */
export async function insertWithOperation(db: Q, op: OperationRow, table: string, row: object): Promise<void> {
  if (isPostgres(db)) {
    await db.with('new_operation', db('operations').insert(op)).insert(row).into(table);
    return;
  }
  await insertOperation(db, op);
  await db(table).insert(row);
}

/**
 * Takes operations for a worker: only those not finished and with no live lease. The conditional
 * UPDATE is the whole concurrency story — of two workers handed the same message, exactly one gets
 * the row back. Claims are batched (one statement for every message that arrived meanwhile).
 */
export async function claimOperations(db: Q, ids: string[], owner: string, now: number, leaseMs: number, simNow = now): Promise<OperationRow[]> {
  const at = new Date(now).toISOString();
  return (await db('operations')
    .whereIn('id', ids)
    .whereIn('status', ['pending', 'running'])
    .andWhere((w) => w.whereNull('lease_owner').orWhere('lease_expires_ms', '<', now))
    .update({
      lease_owner: owner,
      lease_expires_ms: now + leaseMs,
      status: 'running',
      started_at: db.raw('coalesce(started_at, ?)', [at]),
      // started_ms is simulated time (the plan's clock); leases are wall time.
      started_ms: db.raw('coalesce(started_ms, ?)', [Math.round(simNow)]),
      attempts: db.raw('attempts + 1'),
      updated_at: at,
    })
    .returning('*')) as OperationRow[];
}

/** One statement renews every lease a worker holds. */
/**
 * One statement renews every lease a worker holds. On PostgreSQL it skips rows that this worker's
 * progress or completion transactions hold right now (those renew or end the lease themselves), so
 * it never waits on them and cannot deadlock with them.
 */
export async function renewLeases(db: Q, owner: string, until: number): Promise<void> {
  const mine = db('operations').where({ lease_owner: owner, status: 'running' });
  if (isPostgres(db)) {
    await db('operations').whereIn('id', mine.clone().select('id').forUpdate().skipLocked()).update({ lease_expires_ms: until });
  } else {
    await mine.update({ lease_expires_ms: until });
  }
}

/** Gives operations back (graceful shutdown): another worker may take them at once. */
export const releaseLeases = (db: Q, owner: string, ids: string[]) =>
  db('operations').where({ lease_owner: owner }).whereIn('id', ids).whereIn('status', ['pending', 'running']).update({ lease_expires_ms: 0 });

export interface ProgressUpdate {
  id: string;
  progress: number;
  message: string;
}

/**
 * Writes many progress updates in one statement per chunk (CASE by id): a worker with 10,000
 * operations in flight reports each one every second, so per-row statements would not keep up.
 * Progress only ever grows (max of old and new), and only the lease holder may write.
 */
export async function writeProgress(db: Q, owner: string, updates: ProgressUpdate[], at: string, leaseUntil: number): Promise<Set<string>> {
  // The ids actually written: an operation reset, cancelled or taken over meanwhile is not ours.
  const written = new Set<string>();
  for (let i = 0; i < updates.length; i += 300) {
    const chunk = updates.slice(i, i + 300);
    const progressCase = chunk.map(() => 'when ? then ?').join(' ');
    const messageCase = chunk.map(() => 'when ? then ?').join(' ');
    const rows = (await db('operations')
      .whereIn('id', chunk.map((u) => u.id))
      .andWhere({ lease_owner: owner, status: 'running' })
      .update({
        progress: db.raw(`case id ${progressCase} else progress end`, chunk.flatMap((u) => [u.id, u.progress])),
        message: db.raw(`case id ${messageCase} else message end`, chunk.flatMap((u) => [u.id, u.message])),
        updated_at: at,
        // Reporting progress is proof of life: it renews the lease of what it reports.
        lease_expires_ms: leaseUntil,
      })
      .returning('id')) as { id: string }[];
    for (const r of rows) written.add(r.id);
  }
  return written;
}

/** Finishes an operation exactly once: only the lease holder, only from `running`. */
export async function finishOperation(
  db: Q,
  id: string,
  owner: string,
  fields: { status: 'succeeded' | 'failed'; progress: number; message: string; error_code: string | null; error_message: string | null },
  at: string,
): Promise<boolean> {
  const n = await db('operations')
    .where({ id, lease_owner: owner, status: 'running' })
    .update({ ...fields, finished_at: at, updated_at: at, lease_owner: null, lease_expires_ms: null });
  return n === 1;
}

/**
 * Operations nobody is working on: claimed by a worker that stopped renewing its lease, handed back
 * without one, or never claimed although dispatched (or re-dispatched) longer than `pendingGraceMs`
 * ago. `unclaimed` are the never-claimed ones: once their re-publish is confirmed the caller stamps
 * them (`markDispatched`), so the next pass waits another grace period instead of flooding a slow
 * queue with copies — and a publish that was not confirmed is tried again on the next pass.
 */
export async function orphanedOperations(db: Q, now: number, pendingGraceMs: number, limit: number): Promise<{ ids: string[]; unclaimed: Set<string> }> {
  const cutoffMs = now - pendingGraceMs;
  const rows = (await db('operations')
    .select('id', 'lease_owner', 'status')
    .whereIn('status', ['pending', 'running'])
    .andWhere((w) =>
      w
        .where((p) =>
          p
            .whereNull('lease_owner')
            .andWhere((q) =>
              q
                .where('status', 'running')
                .orWhere((u) =>
                  u.where((d) => d.whereNull('dispatched_ms').andWhere('created_at', '<', new Date(cutoffMs).toISOString())).orWhere('dispatched_ms', '<', cutoffMs),
                ),
            ),
        )
        .orWhere((r) => r.whereNotNull('lease_owner').andWhere('lease_expires_ms', '<', now)),
    )
    .orderBy('created_at')
    .limit(limit)) as { id: string; lease_owner: string | null; status: string }[];
  const unclaimed = new Set(rows.filter((r) => r.status === 'pending' && r.lease_owner === null).map((r) => r.id));
  return { ids: rows.map((r) => r.id), unclaimed };
}

/** Records when an operation's message was last confirmed by the queue. */
export async function markDispatched(db: Q, ids: string[], at: number): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    await db('operations').whereIn('id', ids.slice(i, i + 500)).update({ dispatched_ms: at });
  }
}

/**
 * Finishes many successful operations in one statement, exactly once each (lease holder, still
 * running); returns the ids it closed.
 */
export async function finishSucceeded(db: Q, ids: string[], owner: string, at: string): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = (await db('operations')
    .whereIn('id', ids)
    .andWhere({ lease_owner: owner, status: 'running' })
    .update({ status: 'succeeded', progress: 100, message: 'done', finished_at: at, updated_at: at, lease_owner: null, lease_expires_ms: null })
    .returning('id')) as { id: string }[];
  return new Set(rows.map((r) => r.id));
}
