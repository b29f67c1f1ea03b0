// PUT /{collection}/{id}: replace a resource's writable fields with a whole document, for
// declarative clients that only know how to send the full desired object (Terraform's restapi
// provider). A JSON merge patch cannot say "these tags and no others" — `{"tags": {}}` removes
// nothing — so PUT takes the create document and turns it into the merge patch that reaches it:
// every field absent from the body takes its create default, every tag absent is removed
// (`null`), and immutable fields must equal the current value (422 immutable_field otherwise,
// exactly as PATCH). The patch then goes through the resource's ordinary update, guarded by the
// ETag of the version it was computed from, so a concurrent change cannot be silently undone.
import type { EnvironmentCreate, SecurityGroupCreate, VmCreate, VolumeCreate } from '../api.js';
import type { Ctx } from './context.js';
import { checkIfMatch, etagOf } from './etag.js';
import { AppError } from '../errors.js';
import type { Tags } from './tags.js';

/** The merge patch that turns tag map `current` into exactly `wanted`. */
export function tagsReplacement(current: Tags, wanted: Tags): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const k of Object.keys(current)) if (!(k in wanted)) patch[k] = null;
  for (const [k, v] of Object.entries(wanted)) if (current[k] !== v) patch[k] = v;
  return patch;
}

interface Replaceable<T, P> {
  get(ctx: Ctx, id: string): Promise<T>;
  update(ctx: Ctx, id: string, patch: P, ifMatch?: string): Promise<T>;
}

/** How many times a replace recomputes its patch when the resource changed underneath it. */
const ATTEMPTS = 3;

async function replaceWith<T extends { tags: Tags }, P>(
  service: Replaceable<T, P>,
  ctx: Ctx,
  id: string,
  ifMatch: string | undefined,
  toPatch: (current: T) => P,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const current = await service.get(ctx, id);
    checkIfMatch(ifMatch, current);
    try {
      return await service.update(ctx, id, toPatch(current), etagOf(current));
    } catch (err) {
      // Someone else changed it between our read and our write: recompute, unless the client pinned a version.
      if (ifMatch === undefined && err instanceof AppError && err.code === 'precondition_failed' && attempt < ATTEMPTS) continue;
      throw err;
    }
  }
}

export const replaceEnvironment = <T extends { tags: Tags }, P>(s: Replaceable<T, P>, ctx: Ctx, id: string, body: EnvironmentCreate, ifMatch?: string) =>
  replaceWith(s, ctx, id, ifMatch, (current) => ({ name: body.name, cidr: body.cidr ?? '10.0.0.0/16', tags: tagsReplacement(current.tags, body.tags ?? {}) }) as P);

export const replaceSecurityGroup = <T extends { tags: Tags }, P>(s: Replaceable<T, P>, ctx: Ctx, id: string, body: SecurityGroupCreate, ifMatch?: string) =>
  replaceWith(s, ctx, id, ifMatch, (current) =>
    ({
      name: body.name,
      environment_id: body.environment_id,
      description: body.description ?? '',
      rules: body.rules ?? [],
      tags: tagsReplacement(current.tags, body.tags ?? {}),
    }) as P,
  );

export const replaceVm = <T extends { tags: Tags }, P>(s: Replaceable<T, P>, ctx: Ctx, id: string, body: VmCreate, ifMatch?: string) =>
  replaceWith(s, ctx, id, ifMatch, (current) =>
    ({
      name: body.name,
      environment_id: body.environment_id,
      image: body.image,
      size: body.size,
      security_group_ids: body.security_group_ids ?? [],
      tags: tagsReplacement(current.tags, body.tags ?? {}),
    }) as P,
  );

export const replaceVolume = <T extends { tags: Tags }, P>(s: Replaceable<T, P>, ctx: Ctx, id: string, body: VolumeCreate, ifMatch?: string) =>
  replaceWith(s, ctx, id, ifMatch, (current) =>
    ({
      name: body.name,
      environment_id: body.environment_id,
      type: body.type ?? 'standard',
      size_gb: body.size_gb,
      tags: tagsReplacement(current.tags, body.tags ?? {}),
    }) as P,
  );
