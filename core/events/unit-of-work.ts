import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { Bus } from './bus.js';
import { announceEvents, appendEvents, type NewEvent } from './event-log.js';

/**
 * Runs `work` in one transaction and appends the events it emitted as the transaction's last
 * statements, so a state change and its event commit together or not at all; listeners hear of it
 * only after the commit.
 */
export async function inTransaction<T>(
  db: Db,
  bus: Bus,
  work: (trx: Knex.Transaction, emit: (e: NewEvent) => void) => Promise<T>,
): Promise<T> {
  const events: NewEvent[] = [];
  const result = await db.transaction(async (trx) => {
    const out = await work(trx, (e) => events.push(e));
    await appendEvents(trx, events);
    return out;
  });
  if (events.length) announceEvents(bus);
  return result;
}
