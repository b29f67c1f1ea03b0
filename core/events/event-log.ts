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

const COLUMNS = ['project_id', 'type', 'resource_type', 'resource_id', 'environment_id', 'operation_id', 'kind', 'data', 'created_at'];
const INSERT = `insert into events (${COLUMNS.map((c) => `"${c}"`).join(', ')})`;
const ROW = `(${COLUMNS.map(() => '?').join(', ')})`;

export async function appendEvents(trx: Q, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const pg = isPostgres(trx);
  const at = nowIso();
  // Chunked: SQLite caps bound parameters per statement.
  for (let i = 0; i < events.length; i += 200) {
    const chunk = events.slice(i, i + 200);
    const values = chunk.flatMap((e) => [e.projectId, e.type, e.resourceType, e.resourceId, e.environmentId ?? null, e.operationId ?? null, e.kind ?? null, JSON.stringify(e.data), at]);
    const rows = chunk.map(() => ROW).join(', ');
    // On PostgreSQL the lock rides in the insert itself (one round trip, not two): the filter is
    // evaluated before each row's projection, so the lock is held before the first seq is drawn.
    if (pg) await trx.raw(`${INSERT} select * from (values ${rows}) as v where pg_advisory_xact_lock(?) is not null`, [...values, EVENT_LOCK_KEY]);
    else await trx.raw(`${INSERT} values ${rows}`, values);
  }
}

/** Tells live listeners that new events are committed. Best effort: readers re-query the table. */
export function announceEvents(bus: Bus): void {
  bus.publish(EVENTS_CHANNEL, '1').catch(() => undefined);
}
