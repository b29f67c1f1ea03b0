import type { Environment, Operation, SecurityGroup, Vm, Volume } from '../core/api.js';
import type { Item, ResourceKind } from './api-client.js';
import { ruleText } from './commands/shared.js';
import type { Column } from './format.js';
import { tagsText } from './format.js';
import type { Field } from './output.js';

// What a human sees of each API object: the list columns and the `get` fields. JSON output never
// goes through here. Other resources a row points at are shown by name (tables) or as
// `ID (name)` (details), from the names the client has seen.

export interface Names {
  /** The name when known, else the ID. */
  nameOf(id: string | null | undefined): string;
  /** `ID (name)` when the name is known, else the ID. */
  label(id: string | null | undefined): string;
}

const age = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

export function columns(n: Names): { [K in ResourceKind]: Column<Item<K>>[] } {
  return {
    env: [
      { header: 'ID', value: (e: Environment) => e.id },
      { header: 'NAME', value: (e) => e.name },
      { header: 'CIDR', value: (e) => e.cidr },
      { header: 'STATUS', value: (e) => e.status },
      { header: 'TAGS', value: (e) => tagsText(e.tags) },
    ],
    sg: [
      { header: 'ID', value: (s: SecurityGroup) => s.id },
      { header: 'NAME', value: (s) => s.name },
      { header: 'ENVIRONMENT', value: (s) => n.nameOf(s.environment_id) },
      { header: 'RULES', value: (s) => String(s.rules.length) },
      { header: 'DESCRIPTION', value: (s) => s.description ?? '' },
    ],
    vm: [
      { header: 'ID', value: (v: Vm) => v.id },
      { header: 'NAME', value: (v) => v.name },
      { header: 'ENVIRONMENT', value: (v) => n.nameOf(v.environment_id) },
      { header: 'SIZE', value: (v) => v.size },
      { header: 'IMAGE', value: (v) => v.image },
      { header: 'IP', value: (v) => v.private_ip },
      { header: 'STATUS', value: (v) => v.status },
      { header: 'PROGRESS', value: (v) => `${v.progress}%` },
    ],
    volume: [
      { header: 'ID', value: (v: Volume) => v.id },
      { header: 'NAME', value: (v) => v.name },
      { header: 'ENVIRONMENT', value: (v) => n.nameOf(v.environment_id) },
      { header: 'SIZE', value: (v) => `${v.size_gb} GB` },
      { header: 'TYPE', value: (v) => v.type },
      { header: 'STATUS', value: (v) => v.status },
      { header: 'ATTACHED', value: (v) => (v.attachment ? `${n.nameOf(v.attachment.vm_id)} ${v.attachment.device}` : '') },
    ],
  };
}

// Every detail view has the same shape: who it is (id, name), its state (status, progress, error),
// where it lives and what it is tied to, what it is made of, then tags and times.
const common = <T extends { created_at: string; updated_at: string; tags: Record<string, string> }>(): Field<T>[] => [
  ['tags', (x) => tagsText(x.tags)],
  ['created', (x) => age(x.created_at)],
  ['updated', (x) => age(x.updated_at)],
];

/** The first fields of an asynchronous resource (VM, volume): who it is and how its operation goes. */
const asyncHead = <T extends Vm | Volume>(n: Names): Field<T>[] => [
  ['id', (v) => v.id],
  ['name', (v) => v.name],
  ['status', (v) => v.status],
  ['progress', (v) => `${v.progress}%`],
  ['error', (v) => (v.error ? `${v.error.message} (${v.error.code})` : '')],
  ['operation', (v) => v.operation_id ?? ''],
  ['environment', (v) => n.label(v.environment_id)],
];

export function fields(n: Names): { [K in ResourceKind]: Field<Item<K>>[] } {
  return {
    env: [['id', (e: Environment) => e.id], ['name', (e) => e.name], ['status', (e) => e.status], ['cidr', (e) => e.cidr], ...common<Environment>()],
    sg: [
      ['id', (s: SecurityGroup) => s.id],
      ['name', (s) => s.name],
      ['environment', (s) => n.label(s.environment_id)],
      ['description', (s) => s.description ?? ''],
      ['rules', (s) => s.rules.map(ruleText).join(', ') || '(none)'],
      ...common<SecurityGroup>(),
    ],
    vm: [
      ...asyncHead<Vm>(n),
      ['security groups', (v) => v.security_group_ids.map((id) => n.label(id)).join(', ')],
      ['volumes', (v) => v.attached_volume_ids.map((id) => n.label(id)).join(', ')],
      ['size', (v) => v.size],
      ['image', (v) => v.image],
      ['private ip', (v) => v.private_ip],
      ...common<Vm>(),
    ],
    volume: [
      ...asyncHead<Volume>(n),
      ['attachment', (v) => (v.attachment ? `${n.label(v.attachment.vm_id)} as ${v.attachment.device}` : '')],
      ['size', (v) => `${v.size_gb} GB`],
      ['type', (v) => v.type],
      ...common<Volume>(),
    ],
  };
}

export function opColumns(n: Names): Column<Operation>[] {
  return [
    { header: 'ID', value: (o) => o.id },
    { header: 'KIND', value: (o) => o.kind },
    { header: 'RESOURCE', value: (o) => n.label(o.resource_id) },
    { header: 'STATUS', value: (o) => o.status },
    { header: 'PROGRESS', value: (o) => `${o.progress}%` },
    { header: 'MESSAGE', value: (o) => (o.error ? `${o.error.message} (${o.error.code})` : o.message) },
  ];
}

export function opFields(n: Names): Field<Operation>[] {
  return [
    ['id', (o) => o.id],
    ['kind', (o) => o.kind],
    ['status', (o) => o.status],
    ['progress', (o) => `${o.progress}%`],
    ['message', (o) => o.message],
    ['error', (o) => (o.error ? `${o.error.message} (${o.error.code})` : '')],
    ['resource', (o) => `${o.resource_type} ${n.label(o.resource_id)}`],
    ['environment', (o) => n.label(o.environment_id)],
    ['created', (o) => age(o.created_at)],
    ['started', (o) => (o.started_at ? age(o.started_at) : '')],
    ['finished', (o) => (o.finished_at ? age(o.finished_at) : '')],
  ];
}
