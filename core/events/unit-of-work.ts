import type { Knex } from 'knex';
import type { Db } from '../db.js';
import { isRetryableConflict } from '../db-errors.js';
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
  for (let attempt = 1; ; attempt++) {
    const events: NewEvent[] = [];
    try {
      const result = await db.transaction(async (trx) => {
        const out = await work(trx, (e) => events.push(e));
        await appendEvents(trx, events);
        return out;
      });
      if (events.length) announceEvents(bus);
      return result;
    } catch (err) {
      // PostgreSQL broke a deadlock (or a serialization conflict) by aborting us; nothing of this
      // attempt was committed, so running the work again is safe. Past a few tries the error goes
      // to the client as 503 (core/db-errors.ts).
      if (!isRetryableConflict(err) || attempt >= MAX_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
    }
  }
}

const MAX_ATTEMPTS = 4;
