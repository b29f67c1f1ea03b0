import { AppError } from '../errors.js';

/**
 * Refuses a merge patch that changes an immutable field (422 immutable_field). Sending the current
 * value back is fine: IaC tools send the whole object.
 */
export function refuseImmutableChanges<K extends string>(
  patch: Partial<Record<K, unknown>>,
  current: Record<K, unknown>,
  fields: readonly K[],
  hint: string,
): void {
  const changed = fields.filter((f) => patch[f] !== undefined && patch[f] !== current[f]);
  if (!changed.length) return;
  throw new AppError('immutable_field', `${changed.join(', ')} cannot be changed after creation; ${hint}`, {
    errors: changed.map((f) => ({ path: `/body/${f}`, message: 'immutable', code: 'immutable_field' })),
  });
}
