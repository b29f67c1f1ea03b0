import { createHash, randomInt } from 'node:crypto';

// Reproducible randomness without shared state: each decision is a hash of the seed and of what
// the decision is about (environment name, resource name, operation kind, attempt). Two runs that
// make the same requests get the same durations, failures and addresses, whatever the interleaving
// of concurrent requests. Without a seed, decisions come from the system's CSPRNG.

export type Rng = (...key: (string | number)[]) => number;

export function makeRng(seed: number | null | undefined): Rng {
  if (seed === null || seed === undefined) return () => randomInt(0, 2 ** 47) / 2 ** 47;
  return (...key) => {
    const digest = createHash('sha256').update(`${seed}\u0000${key.join('\u0000')}`).digest();
    return digest.readUIntBE(0, 6) / 2 ** 48;
  };
}
