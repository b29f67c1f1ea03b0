import type { Knex } from 'knex';
import { isPostgres, type Db } from '../db.js';
import { isRetryableConflict } from '../db-errors.js';
import type { Bus } from './bus.js';
import { announceEvents, appendEvents, type NewEvent } from './event-log.js';

type Work<T> = (trx: Knex.Transaction, emit: (e: NewEvent) => void) => Promise<T>;

/**
 * Runs `work` in one transaction and appends the events it emitted as the transaction's last
 * statements, so a state change and its event commit together or not at all; listeners hear of it
 * only after the commit.
 */
export async function inTransaction<T>(db: Db, bus: Bus, work: Work<T>): Promise<T> {
  if (!isPostgres(db)) return groupCommit(db, bus, work);
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

interface Unit {
  work: Work<unknown>;
  resolve: (out: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * SQLite runs one transaction at a time on its one connection, and in a file database each COMMIT
 * writes every page the transaction touched to the WAL: 270 µs of a create's ~1.4 ms of CPU
 * (bench/provisioning.ts, embedded). Units of work that queue up while a transaction runs therefore
 * share the next one, each in a savepoint of its own: a unit that fails is rolled back alone and
 * only its caller hears of it; the others are answered once the shared COMMIT is done. One waiting
 * unit runs in a plain transaction, as before. Keyed by the knex instance (one per database).
 */
const queues = new WeakMap<Db, { units: Unit[]; running: boolean }>();
const UNITS_PER_COMMIT = 50;

function groupCommit<T>(db: Db, bus: Bus, work: Work<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let q = queues.get(db);
    if (!q) queues.set(db, (q = { units: [], running: false }));
    q.units.push({ work, resolve: resolve as (out: unknown) => void, reject });
    // On the next turn of the event loop: a SQLite transaction never yields to I/O, so the units
    // that share one are those the requests of this turn brought.
    if (!q.running) {
      q.running = true;
      setImmediate(() => void drain(db, bus, q));
    }
  });
}

async function drain(db: Db, bus: Bus, q: { units: Unit[]; running: boolean }): Promise<void> {
  try {
    while (q.units.length) {
      const group = q.units.splice(0, UNITS_PER_COMMIT);
      for (let attempt = 1; ; attempt++) {
        const done: { unit: Unit; out: unknown }[] = [];
        const failed = new Map<Unit, unknown>();
        let announce = false;
        try {
          await db.transaction(async (trx) => {
            for (const unit of group) {
              const events: NewEvent[] = [];
              const run = async (t: Knex.Transaction) => {
                const out = await unit.work(t, (e) => events.push(e));
                await appendEvents(t, events);
                return out;
              };
              try {
                done.push({ unit, out: group.length === 1 ? await run(trx) : await trx.transaction(run) });
                if (events.length) announce = true;
              } catch (err) {
                // Another process holds the database file (SQLITE_BUSY): the whole group tries again.
                if (group.length === 1 || isRetryableConflict(err)) throw err;
                failed.set(unit, err);
              }
            }
          });
        } catch (err) {
          if (isRetryableConflict(err) && attempt < MAX_ATTEMPTS) {
            await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
            continue;
          }
          // Nothing of the group was committed (a lone unit's own error lands here too).
          for (const unit of group) unit.reject(failed.has(unit) ? failed.get(unit) : err);
          break;
        }
        if (announce) announceEvents(bus);
        for (const d of done) d.unit.resolve(d.out);
        for (const [unit, err] of failed) unit.reject(err);
        break;
      }
    }
  } finally {
    q.running = false;
  }
}
