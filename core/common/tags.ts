import type { Knex } from 'knex';
import type { Q } from '../db.js';

export type Tags = Record<string, string>;

/** Replaces the indexed copy of a resource's tags (the JSON copy on the row stays authoritative). */
export async function writeTags(db: Q, resourceId: string, tags: Tags, fresh = false): Promise<void> {
  if (!fresh) await db('resource_tags').where({ resource_id: resourceId }).delete();
  const rows = Object.entries(tags).map(([key, value]) => ({ resource_id: resourceId, key, value }));
  if (rows.length) await db('resource_tags').insert(rows);
}

export async function deleteTags(db: Q, resourceId: string): Promise<void> {
  await db('resource_tags').where({ resource_id: resourceId }).delete();
}

/** Adds one EXISTS clause per requested tag: every pair must match. */
export function whereTags(query: Knex.QueryBuilder, table: string, tags: Tags | undefined): void {
  for (const [key, value] of Object.entries(tags ?? {})) {
    query.whereExists(function (this: Knex.QueryBuilder) {
      this.select(1).from('resource_tags').whereRaw('resource_tags.resource_id = ??', [`${table}.id`]).andWhere({ key, value });
    });
  }
}

/** JSON merge patch (RFC 7396) of a tag map: null removes a key, other values replace or add. */
export function mergeTags(current: Tags, patch: Record<string, string | null>): Tags {
  const out: Tags = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}


/** The tags after a merge patch: absent keeps them, null clears them, an object merges (RFC 7396). */
export function patchTags(current: Tags, patch: Record<string, string | null> | null | undefined): Tags {
  if (patch === undefined) return current;
  return patch === null ? {} : mergeTags(current, patch);
}
