import type { Db } from '../db.js';
import type { Bus } from './bus.js';
import { EVENTS_CHANNEL, lastSeq, readEvents, type EventRow } from './event-log.js';

export interface FeedFilter {
  projectId: string;
  resourceIds?: string[];
  environmentId?: string;
  kind?: string;
}

export interface Subscription {
  close(): Promise<void>;
}

const PAGE = 500;
const POLL_MS = 2000;

/**
 * A live, gap-free view of the event log for one client. The bus only wakes it; every delivery
 * comes from the table in sequence order after the last one sent, so a resumed stream has no gap and
 * no duplicate, and a lost bus message costs at most one poll interval.
 */
export class EventFeed {
  constructor(private readonly deps: { db: Db; bus: Bus }) {}

  async open(filter: FeedFilter, afterSeq: number | undefined, push: (rows: EventRow[]) => void): Promise<Subscription> {
    let cursor = afterSeq ?? (await lastSeq(this.deps.db));
    let pumping = false;
    let again = false;
    let closed = false;
    const pump = async (): Promise<void> => {
      if (closed) return;
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      try {
        do {
          again = false;
          for (;;) {
            const rows = await readEvents(this.deps.db, { ...filter, afterSeq: cursor, limit: PAGE });
            if (closed || !rows.length) break;
            cursor = rows[rows.length - 1]!.seq;
            push(rows);
            if (rows.length < PAGE) break;
          }
        } while (again && !closed);
      } catch {
        // The database blinked; the next wake-up or poll tries again from the same cursor.
      } finally {
        pumping = false;
      }
    };
    const unsubscribe = await this.deps.bus.subscribe(EVENTS_CHANNEL, () => void pump());
    const poll = setInterval(() => void pump(), POLL_MS);
    poll.unref();
    void pump();
    return {
      close: async () => {
        closed = true;
        clearInterval(poll);
        await unsubscribe();
      },
    };
  }
}

export const toWire = (r: EventRow) => ({
  seq: r.seq,
  type: r.type,
  resource_type: r.resource_type,
  resource_id: r.resource_id,
  environment_id: r.environment_id,
  operation_id: r.operation_id,
  kind: r.kind,
  created_at: r.created_at,
  data: JSON.parse(r.data) as unknown,
});
