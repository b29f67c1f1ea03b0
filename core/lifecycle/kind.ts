import type { Q } from '../db.js';
import type { NewEvent } from '../events/event-log.js';
import type { OperationRow } from '../operations/schema.js';
import type { ResourceType } from './machine.js';

// What the generic lifecycle (begin, complete, the engine) needs to know about one kind of
// asynchronous resource (STYLE.md "Many resource kinds, one lifecycle"). A new kind — snapshots,
// backups, load balancers — supplies one of these, its rows in MACHINE and its plan phases; the
// completion code stays as it is.

export interface KindRow {
  id: string;
  project_id: string;
  status: string;
  operation_id: string | null;
}

export interface Outcome {
  status: 'succeeded' | 'failed';
  error: { code: string; message: string } | null;
  progress: number;
  message: string;
}

export interface ResourceKind<R extends KindRow = KindRow> {
  resource: ResourceType;
  table: string;
  /**
   * The change events for rows, as clients see them (batched: lists of rows need few queries).
   * `finished`: the rows' current operations have just succeeded, so their progress is 100 and
   * need not be read back.
   */
  events(db: Q, rows: R[], type: string, opOf: (row: R) => OperationRow | undefined, finished?: boolean): Promise<NewEvent[]>;
  /** Columns that go with landing in `status` on every path, set-based completion included. */
  landingFields(status: string): Record<string, unknown>;
  /**
   * Checked before an operation is closed, with the row locked: may turn a success into a failure
   * when a relation went away meanwhile (an attach whose VM was deleted).
   */
  vet?(trx: Q, op: OperationRow, outcome: Outcome): Promise<Outcome>;
  /**
   * The status the resource really lands in: a landing its relations contradict (in-use, but the
   * VM it was attached to is gone) is corrected here, so no resource ends in an impossible state.
   */
  reconcile?(trx: Q, row: R, status: string): Promise<string>;
  /** Cleans up what hangs off the resource before its row is deleted. */
  beforeDelete?(trx: Q, row: R, at: string, emit: (e: NewEvent) => void): Promise<void>;
}
