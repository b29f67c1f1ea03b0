import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import basex from 'base-x';

// Token secrets: `mc_` + 32 random bytes in base62 (SPEC §10). Only the sha256 is stored: the
// secrets carry 256 bits of entropy, so a plain hash is as strong as a slow one and costs microseconds
// per request.

const base62 = basex('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');

export const TOKEN_PREFIX = 'mc_';

export const newSecret = () => TOKEN_PREFIX + base62.encode(randomBytes(32));

export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Constant-time comparison of two secrets of any length (their digests have one length). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, digestOf(expected));
}

// The expected secret is the admin token, the same on every request: its digest is kept, not
// recomputed (a sha256 per request on the enforce path, docs/performance.md).
let expectedSecret: string | undefined;
let expectedDigest: Buffer | undefined;
function digestOf(secret: string): Buffer {
  if (secret !== expectedSecret || !expectedDigest) {
    expectedDigest = createHash('sha256').update(secret).digest();
    expectedSecret = secret;
  }
  return expectedDigest;
}
