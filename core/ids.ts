import { randomFillSync } from 'node:crypto';

export type IdPrefix = 'env' | 'sg' | 'vm' | 'vol' | 'op' | 'prj' | 'usr' | 'tok' | 'aud';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const ID_BYTES = 16;

// Random bytes are drawn 4 KiB at a time (as crypto.randomUUID does internally): a create makes
// three ids, and one native randomBytes call per id was ~2 % of the API's CPU on POST /vms.
const pool = Buffer.alloc(4096);
let offset = pool.length;

// 16 base-36 characters ≈ 82 bits: unguessable and URL-safe, short enough to type in a CLI.
export function newId(prefix: IdPrefix): string {
  if (offset + ID_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  let out = '';
  for (let i = offset; i < offset + ID_BYTES; i++) out += ALPHABET[pool[i]! % 36];
  offset += ID_BYTES;
  return `${prefix}-${out}`;
}
