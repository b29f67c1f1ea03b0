import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';

// The ETag is derived from the representation itself, so it can never disagree with the body.
export function etagOf(representation: unknown): string {
  return etagOfJson(JSON.stringify(representation));
}

/** The ETag of a representation already serialised (the response body itself). */
export function etagOfJson(json: string): string {
  return `"${createHash('sha1').update(json).digest('base64url').slice(0, 22)}"`;
}

/** If-Match is optional (SPEC §4); when sent it must name the current representation or be `*`. */
export function checkIfMatch(ifMatch: string | undefined, representation: unknown): void {
  if (ifMatch === undefined) return;
  const wanted = ifMatch.split(',').map((s) => s.trim().replace(/^W\//, ''));
  if (wanted.includes('*') || wanted.includes(etagOf(representation))) return;
  throw new AppError('precondition_failed', `If-Match ${ifMatch} does not match the current version ${etagOf(representation)}`);
}
