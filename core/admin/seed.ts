import { createHash } from 'node:crypto';
import { z } from 'zod';
import { intToIp, parseCidr } from '../common/cidr.js';
import { AppError } from '../errors.js';
import { IMAGES, SIZES } from '../catalogue.js';
import { RESERVED_LOW } from '../vms/ip.js';
import { STATE_SCHEMA_VERSION, type Row, type StateDocument } from './state.js';

// The declarative seed YAML of `--init`: projects, environments and what they hold, each in its
// final state (no operations run). It becomes a state document, merged like any other. IDs are
// derived from the names, so applying the same file again at the next start changes nothing new.

const tags = z.record(z.string(), z.string()).default({});
const rule = z.object({
  direction: z.enum(['ingress', 'egress']),
  protocol: z.enum(['tcp', 'udp', 'icmp', 'all']),
  port_from: z.number().int().min(0).max(65535),
  port_to: z.number().int().min(0).max(65535),
  cidr: z.string(),
}).strict();
const sizes = SIZES.map((s) => s.name) as [string, ...string[]];
const images = IMAGES.map((i) => i.name) as [string, ...string[]];

const seedSchema = z.object({
  projects: z.array(z.object({ id: z.string().regex(/^[a-z0-9-]{1,40}$/), name: z.string().min(1).max(63).optional() }).strict()).default([]),
  environments: z.array(
    z.object({
      name: z.string().min(1).max(63),
      project: z.string().default('default'),
      cidr: z.string().default('10.0.0.0/16'),
      tags,
      security_groups: z.array(z.object({ name: z.string().min(1).max(63), description: z.string().default(''), rules: z.array(rule).default([]), tags }).strict()).default([]),
      vms: z.array(
        z.object({
          name: z.string().min(1).max(63),
          size: z.enum(sizes).default('small'),
          image: z.enum(images).default('ubuntu-24.04'),
          security_groups: z.array(z.string()).default([]),
          status: z.enum(['running', 'stopped', 'error']).default('running'),
          tags,
        }).strict(),
      ).default([]),
      volumes: z.array(
        z.object({
          name: z.string().min(1).max(63),
          size_gb: z.number().int().min(1).max(16384).default(10),
          type: z.enum(['standard', 'ssd']).default('standard'),
          status: z.enum(['available', 'in-use', 'error']).optional(),
          attached_to: z.string().optional(),
          tags,
        }).strict(),
      ).default([]),
    }).strict(),
  ).default([]),
}).strict();

export type Seed = z.infer<typeof seedSchema>;

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const stableId = (prefix: string, ...parts: string[]) => {
  const bytes = createHash('sha256').update(parts.join('\u0000')).digest();
  let out = '';
  for (const b of bytes.subarray(0, 16)) out += ALPHABET[b % 36];
  return `${prefix}-${out}`;
};

export function seedToDocument(input: unknown, o: { nowMs: number; file: string }): StateDocument {
  const parsed = seedSchema.safeParse(input ?? {});
  const invalid = (message: string, path: string) => new AppError('invalid_value', `${o.file}: ${path ? `${path}: ` : ''}${message}`, { errors: [{ path: `/${path.replace(/\./g, '/')}`, message, code: 'invalid_seed' }] });
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw invalid(first.message, first.path.join('.'));
  }
  const seed = parsed.data;
  const at = new Date(o.nowMs).toISOString();
  const t: StateDocument['tables'] = { projects: [], environments: [], security_groups: [], vms: [], vm_security_groups: [], volumes: [], operations: [] };
  for (const p of seed.projects) t.projects.push({ id: p.id, name: p.name ?? p.id, created_at: at });
  for (const [ei, e] of seed.environments.entries()) {
    const net = parseCidr(e.cidr, 16, 28);
    if (typeof net === 'string') throw invalid(net, `environments.${ei}.cidr`);
    const envId = stableId('env', e.project, e.name);
    t.environments.push({ id: envId, project_id: e.project, name: e.name, cidr: e.cidr, status: 'available', tags: JSON.stringify(e.tags), created_at: at, updated_at: at });
    const sgIds = new Map<string, string>();
    for (const g of e.security_groups) {
      const id = stableId('sg', envId, g.name);
      sgIds.set(g.name, id);
      t.security_groups.push({ id, project_id: e.project, environment_id: envId, name: g.name, description: g.description, rules: JSON.stringify(g.rules), tags: JSON.stringify(g.tags), created_at: at, updated_at: at });
    }
    const vmIds = new Map<string, string>();
    for (const [vi, v] of e.vms.entries()) {
      const id = stableId('vm', envId, v.name);
      vmIds.set(v.name, id);
      if (RESERVED_LOW + vi >= net.size - 1) throw invalid(`no address left in ${e.cidr}`, `environments.${ei}.vms.${vi}`);
      const vm: Row = { id, project_id: e.project, environment_id: envId, name: v.name, size: v.size, image: v.image, private_ip: intToIp(net.network + RESERVED_LOW + vi), status: v.status, progress: 100, operation_id: null, error_code: v.status === 'error' ? 'provisioning_failed' : null, error_message: v.status === 'error' ? 'seeded in error' : null, tags: JSON.stringify(v.tags), created_at: at, updated_at: at };
      t.vms.push(vm);
      for (const [pos, name] of v.security_groups.entries()) {
        const sg = sgIds.get(name);
        if (!sg) throw invalid(`security group "${name}" is not declared in environment ${e.name}`, `environments.${ei}.vms.${vi}.security_groups`);
        t.vm_security_groups.push({ vm_id: id, security_group_id: sg, position: pos });
      }
    }
    const devices = new Map<string, number>();
    for (const [wi, w] of e.volumes.entries()) {
      const vmId = w.attached_to ? vmIds.get(w.attached_to) : undefined;
      if (w.attached_to && !vmId) throw invalid(`VM "${w.attached_to}" is not declared in environment ${e.name}`, `environments.${ei}.volumes.${wi}.attached_to`);
      const n = vmId ? (devices.get(vmId) ?? 0) : 0;
      if (vmId) devices.set(vmId, n + 1);
      const status = vmId ? 'in-use' : (w.status === 'in-use' ? 'available' : (w.status ?? 'available'));
      t.volumes.push({ id: stableId('vol', envId, w.name), project_id: e.project, environment_id: envId, name: w.name, size_gb: w.size_gb, type: w.type, status, progress: 100, operation_id: null, error_code: status === 'error' ? 'provisioning_failed' : null, error_message: status === 'error' ? 'seeded in error' : null, vm_id: vmId ?? null, device: vmId ? `/dev/vd${String.fromCharCode(98 + n)}` : null, tags: JSON.stringify(w.tags), created_at: at, updated_at: at });
    }
  }
  return { schema_version: STATE_SCHEMA_VERSION, exported_at: at, simulation: { time_scale: 1, seed: null, failure_rate: 0.1, operations: {} }, clock: { now_ms: o.nowMs, time_scale: 1, paused: false }, tables: t };
}
