// IPv4 CIDR parsing. Inputs are echoed exactly as sent (SPEC §3), so rather than normalise
// "10.0.0.1/16" to "10.0.0.0/16" we refuse it and say which network was probably meant.

export interface Cidr {
  network: number; // unsigned 32-bit
  prefix: number;
  size: number; // number of addresses
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function ipToInt(ip: string): number | null {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return null;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Returns the parsed CIDR, or a human message saying what is wrong with it. */
export function parseCidr(text: string, minPrefix = 0, maxPrefix = 32): Cidr | string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return `"${text}" is not an IPv4 CIDR such as 10.0.0.0/16`;
  const addr = ipToInt(m[1]!);
  const prefix = Number(m[2]);
  if (addr === null || prefix > 32 || (m[2]!.length > 1 && m[2]!.startsWith('0'))) {
    return `"${text}" is not an IPv4 CIDR such as 10.0.0.0/16`;
  }
  if (prefix < minPrefix || prefix > maxPrefix) {
    return `prefix /${prefix} is outside the allowed range /${minPrefix}–/${maxPrefix}`;
  }
  const size = 2 ** (32 - prefix);
  const network = addr - (addr % size);
  if (network !== addr) return `"${text}" has host bits set; did you mean ${intToIp(network)}/${prefix}?`;
  return { network, prefix, size };
}
