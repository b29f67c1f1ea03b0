import type { Ctx } from './context.js';
import { checkIfMatch } from './etag.js';
import { refuseImmutableChanges } from './immutable.js';
import { isForeignKeyViolation } from './list.js';
import { deleteTags, patchTags, writeTags, type Tags } from './tags.js';
import { isUniqueViolation, nowIso, type Db, type Lock, type Q } from '../db.js';
import type { AppError, Dependent } from '../errors.js';
import type { Bus } from '../events/bus.js';
import type { NewEvent } from '../events/event-log.js';
import { inTransaction } from '../events/unit-of-work.js';

// The update and delete steps every synchronous kind shares (environments and security groups now;
// the next synchronous kinds of SPEC §12–§16 are a descriptor, not another copy). The asynchronous
// kinds have theirs in core/lifecycle/async-resource.ts.

interface Resource {
  id: string;
  tags: Tags;
  updated_at: string;
}

interface Patch {
  name?: string;
  tags?: Record<string, string | null> | null;
}

/** What a synchronous kind tells the shared steps about itself. */
export interface SyncKind<T extends Resource, P extends Patch> {
  /** The event prefix: `environment` → `environment.updated`, `environment.deleted`. */
  type: string;
  get(ctx: Ctx, id: string, db: Q, lock: Lock): Promise<T>;
  /** Fields a patch may repeat but not change, and what to do instead. */
  immutable: { fields: readonly (keyof P & keyof T & string)[]; hint: string };
  /** The resource after the patch (tags and `updated_at` are already worked out). */
  apply(current: T, patch: P, tags: Tags, at: string): T;
  write(trx: Q, next: T): PromiseLike<unknown>;
  nameTaken(name: string): AppError;
  /** What still uses the resource: a delete is refused while anything does. */
  dependents(db: Q, id: string): Promise<Dependent[]>;
  blocked(id: string, dependents: Dependent[]): AppError;
  remove(trx: Q, id: string): PromiseLike<unknown>;
  event(ctx: Ctx, type: string, resource: T): NewEvent;
}

interface Deps {
  db: Db;
  bus: Bus;
}

/** PATCH: the row is locked for the whole read-check-write, so concurrent If-Match writers serialise. */
export async function updateSync<T extends Resource, P extends Patch>(deps: Deps, kind: SyncKind<T, P>, ctx: Ctx, id: string, patch: P, ifMatch?: string): Promise<T> {
  try {
    return await inTransaction(deps.db, deps.bus, async (trx, emit) => {
      const current = await kind.get(ctx, id, trx, 'update');
      checkIfMatch(ifMatch, current);
      type Field = keyof P & keyof T & string;
      refuseImmutableChanges<Field>(patch as Partial<Record<Field, unknown>>, current as Record<Field, unknown>, kind.immutable.fields, kind.immutable.hint);
      const next = kind.apply(current, patch, patchTags(current.tags, patch.tags), nowIso());
      await kind.write(trx, next);
      if (patch.tags !== undefined) await writeTags(trx, id, next.tags);
      emit(kind.event(ctx, `${kind.type}.updated`, next));
      return next;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw kind.nameTaken(patch.name ?? '');
    throw err;
  }
}

/**
 * DELETE: locked, so a dependent being created (which holds a share lock on this row) finishes
 * first and is seen; one created after finds the row gone. A dependent that slips in between the
 * check and the delete trips the foreign key and gets the same answer as the check.
 */
export async function deleteSync<T extends Resource, P extends Patch>(deps: Deps, kind: SyncKind<T, P>, ctx: Ctx, id: string, ifMatch?: string): Promise<void> {
  try {
    await inTransaction(deps.db, deps.bus, async (trx, emit) => {
      const current = await kind.get(ctx, id, trx, 'update');
      checkIfMatch(ifMatch, current);
      const dependents = await kind.dependents(trx, id);
      if (dependents.length) throw kind.blocked(id, dependents);
      await kind.remove(trx, id);
      await deleteTags(trx, id);
      emit(kind.event(ctx, `${kind.type}.deleted`, current));
    });
  } catch (err) {
    if (isForeignKeyViolation(err)) throw kind.blocked(id, await kind.dependents(deps.db, id));
    throw err;
  }
}
