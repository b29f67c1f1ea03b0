import { randomBytes } from 'node:crypto';

export type IdPrefix = 'env' | 'sg' | 'vm' | 'vol' | 'op' | 'prj' | 'usr' | 'tok' | 'aud';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

// 16 base-36 characters ≈ 82 bits: unguessable and URL-safe, short enough to type in a CLI.
export function newId(prefix: IdPrefix): string {
  const bytes = randomBytes(16);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 36];
  return `${prefix}-${out}`;
}
