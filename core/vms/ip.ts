import { intToIp, parseCidr } from '../common/cidr.js';
import type { Q } from '../db.js';
import { AppError } from '../errors.js';
import type { Rng } from '../simulation/rng.js';

// Addresses inside the environment's CIDR. As on the big clouds, the network address, the first
// three hosts (router, DNS, reserved) and the broadcast address are never handed out: a /28 has 11.
export const RESERVED_LOW = 4; // offsets 0..3
export const usableCount = (size: number) => Math.max(0, size - RESERVED_LOW - 1);

const exhausted = (cidr: string) =>
  new AppError('address_space_exhausted', `environment CIDR ${cidr} has no free address left; delete a VM or use a larger environment`);

/**
 * Picks a free address: random (seeded) probes first, which almost always hit in a roomy network,
 * then, when the network is crowded, a random pick among the free addresses. The unique index on
 * (environment_id, private_ip) is what actually guarantees uniqueness; the caller retries on a clash.
 */
export async function pickAddress(db: Q, environmentId: string, cidr: string, rng: Rng, key: (string | number)[], firstProbe = 0): Promise<string> {
  const net = parseCidr(cidr);
  if (typeof net === 'string') throw new Error(`stored CIDR ${cidr} is invalid`);
  const usable = usableCount(net.size);
  const at = (offset: number) => intToIp(net.network + RESERVED_LOW + offset);
  // Probe first: in a roomy network the first probe almost always hits, and costs one indexed lookup.
  for (let probe = firstProbe; probe < 4 && usable > 0; probe++) {
    const ip = at(Math.floor(rng(...key, 'ip', probe) * usable));
    const taken = await db('vms').where({ environment_id: environmentId, private_ip: ip }).first('id');
    if (!taken) return ip;
  }
  const taken = new Set(((await db('vms').where({ environment_id: environmentId }).select('private_ip')) as { private_ip: string }[]).map((r) => r.private_ip));
  const free: number[] = [];
  for (let o = 0; o < usable; o++) if (!taken.has(at(o))) free.push(o);
  if (!free.length) throw exhausted(cidr);
  return at(free[Math.floor(rng(...key, 'ip-free') * free.length)]!);
}

/**
 * The address pickAddress tries first, computed without the database, so the caller can ask whether
 * it is free in the statement that reads the environment. Undefined when the network has no room.
 */
export function firstCandidate(cidr: string, rng: Rng, key: (string | number)[]): string | undefined {
  const net = parseCidr(cidr);
  if (typeof net === 'string') return undefined;
  const usable = usableCount(net.size);
  if (usable <= 0) return undefined;
  return intToIp(net.network + RESERVED_LOW + Math.floor(rng(...key, 'ip', 0) * usable));
}
