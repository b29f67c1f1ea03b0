import type { Q } from '../db.js';
import { isPostgres, nowIso } from '../db.js';
import type { Bus } from './bus.js';

export const EVENTS_CHANNEL = 'mockcloud:events';

export interface NewEvent {
  projectId: string;
  type: string; // e.g. vm.status, operation.progress, environment.created
  resourceType: string;
  resourceId: string;
  environmentId?: string | null;
  operationId?: string | null;
  kind?: string | null; // the operation kind, when the event belongs to one
  data: unknown;
}

export interface EventRow {
  seq: number;
  project_id: string;
  type: string;
  resource_type: string;
  resource_id: string;
  environment_id: string | null;
  operation_id: string | null;
  kind: string | null;
  data: string;
  created_at: string;
}

// Sequence numbers must become visible in order, or an SSE reader that has seen 102 would never
// look back for 101 committed a moment later. On PostgreSQL a transaction-scoped advisory lock
// serialises the event-appending tail of concurrent transactions (callers append events last, so the
// lock is held only until commit); SQLite has one writer anyway.
const EVENT_LOCK_KEY = 0x6d6f636b; // "mock"

export async function appendEvents(trx: Q, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (isPostgres(trx)) await trx.raw('select pg_advisory_xact_lock(?)', [EVENT_LOCK_KEY]);
  const at = nowIso();
  const rows = events.map((e) => ({
    project_id: e.projectId,
    type: e.type,
    resource_type: e.resourceType,
    resource_id: e.resourceId,
    environment_id: e.environmentId ?? null,
    operation_id: e.operationId ?? null,
    kind: e.kind ?? null,
    data: JSON.stringify(e.data),
    created_at: at,
  }));
  // Chunked: SQLite caps bound parameters per statement.
  for (let i = 0; i < rows.length; i += 200) await trx('events').insert(rows.slice(i, i + 200));
}

/** Tells live listeners that new events are committed. Best effort: readers re-query the table. */
export function announceEvents(bus: Bus): void {
  bus.publish(EVENTS_CHANNEL, '1').catch(() => undefined);
}
