import { Command, InvalidArgumentError } from 'commander';
import type { Rule } from '../../core/api.js';
import { BugError, CliError } from '../errors.js';

// Flag parsers and the action wrapper shared by every command group. Parsers throw commander's
// InvalidArgumentError, so a malformed flag is a usage error (exit 2) before any request is sent.

/**
 * Wraps a command action: CLI errors pass through untouched, anything else is marked as a bug, and
 * both go to the one top-level handler in main.ts.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      throw err instanceof CliError ? err : new BugError(err);
    }
  };
}

export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

/** `--tag k=v`, repeatable. */
export function parseTag(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** `--tag k=v` to set, `--untag k` to remove (a merge patch null). */
export function parseUntag(value: string, previous: string[] = []): string[] {
  if (!value) throw new InvalidArgumentError('expected a tag key');
  return [...previous, value];
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export const RULE_HELP = `security group rule DIRECTION:PROTOCOL:PORTS:CIDR, repeatable; DIRECTION ingress|egress,
PROTOCOL tcp|udp|icmp|all, PORTS a port (22), a range (8000-8080) or empty (icmp/all: every port)`;

/**
 * `--rule ingress:tcp:22:0.0.0.0/0`, `egress:udp:1000-2000:10.0.0.0/8`, `ingress:icmp::10.0.0.0/8`.
 * The CIDR itself is the server's to validate (it answers with the exact problem).
 */
export function parseRule(value: string, previous: Rule[] = []): Rule[] {
  const parts = value.split(':');
  if (parts.length !== 4) throw new InvalidArgumentError(`expected DIRECTION:PROTOCOL:PORTS:CIDR (e.g. ingress:tcp:22:0.0.0.0/0), got "${value}"`);
  const [direction, protocol, ports, cidr] = parts as [string, string, string, string];
  if (direction !== 'ingress' && direction !== 'egress') throw new InvalidArgumentError(`rule direction must be ingress or egress, got "${direction}"`);
  if (!['tcp', 'udp', 'icmp', 'all'].includes(protocol)) throw new InvalidArgumentError(`rule protocol must be tcp, udp, icmp or all, got "${protocol}"`);
  if (!cidr) throw new InvalidArgumentError(`rule "${value}" has no CIDR`);
  const rule: Rule = { direction, protocol: protocol as Rule['protocol'], cidr };
  if (ports !== '') {
    const m = /^(\d+)(?:-(\d+))?$/.exec(ports);
    if (!m) throw new InvalidArgumentError(`rule ports must be PORT or FROM-TO, got "${ports}"`);
    rule.port_from = Number(m[1]);
    rule.port_to = Number(m[2] ?? m[1]);
  } else if (protocol === 'tcp' || protocol === 'udp') {
    rule.port_from = 0;
    rule.port_to = 65535;
  }
  return [...previous, rule];
}

export function ruleText(r: Rule): string {
  const ports = r.port_from === undefined ? '' : r.port_from === r.port_to ? String(r.port_from) : `${r.port_from}-${r.port_to}`;
  return `${r.direction}:${r.protocol}:${ports}:${r.cidr}`;
}

export function parseIntFlag(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be an integer, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

export function parseNumberFlag(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

/** Tag filters for list endpoints: `--tag k=v` → `tags[k]=v`. */
export function tagQuery(tags: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(tags ?? {}).map(([k, v]) => [`tags[${k}]`, v]));
}

/** A merge patch of tags from --tag (set) and --untag (remove). */
export function tagsPatch(set: Record<string, string> | undefined, unset: string[] | undefined): Record<string, string | null> | undefined {
  if (!set && !unset) return undefined;
  return { ...Object.fromEntries((unset ?? []).map((k) => [k, null])), ...(set ?? {}) };
}

export function requireSomething(patch: Record<string, unknown>, what: string): void {
  if (Object.values(patch).every((v) => v === undefined)) throw new CliError(`nothing to update`, `give at least one of ${what}`, 2);
}
