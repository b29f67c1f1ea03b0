import type { Environment, Operation, SecurityGroup, Vm, Volume } from '../core/api.js';
import type { Item, ResourceKind } from './api-client.js';
import { ruleText } from './commands/shared.js';
import type { Column } from './format.js';
import { tagsText } from './format.js';
import type { Field } from './output.js';

// What a human sees of each API object: the list columns and the `get` fields. JSON output never
// goes through here.

const age = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

export const COLUMNS: { [K in ResourceKind]: Column<Item<K>>[] } = {
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
    { header: 'ENVIRONMENT', value: (s) => s.environment_id },
    { header: 'RULES', value: (s) => String(s.rules.length) },
    { header: 'DESCRIPTION', value: (s) => s.description ?? '' },
  ],
  vm: [
    { header: 'ID', value: (v: Vm) => v.id },
    { header: 'NAME', value: (v) => v.name },
    { header: 'ENVIRONMENT', value: (v) => v.environment_id },
    { header: 'SIZE', value: (v) => v.size },
    { header: 'IMAGE', value: (v) => v.image },
    { header: 'IP', value: (v) => v.private_ip },
    { header: 'STATUS', value: (v) => v.status },
    { header: 'PROGRESS', value: (v) => `${v.progress}%` },
  ],
  volume: [
    { header: 'ID', value: (v: Volume) => v.id },
    { header: 'NAME', value: (v) => v.name },
    { header: 'ENVIRONMENT', value: (v) => v.environment_id },
    { header: 'SIZE', value: (v) => `${v.size_gb} GB` },
    { header: 'TYPE', value: (v) => v.type },
    { header: 'STATUS', value: (v) => v.status },
    { header: 'ATTACHED', value: (v) => (v.attachment ? `${v.attachment.vm_id} ${v.attachment.device}` : '') },
  ],
};

const common = <T extends { created_at: string; updated_at: string; tags: Record<string, string> }>(): Field<T>[] => [
  ['tags', (x) => tagsText(x.tags)],
  ['created', (x) => age(x.created_at)],
  ['updated', (x) => age(x.updated_at)],
];

export const FIELDS: { [K in ResourceKind]: Field<Item<K>>[] } = {
  env: [['id', (e: Environment) => e.id], ['name', (e) => e.name], ['cidr', (e) => e.cidr], ['status', (e) => e.status], ...common<Environment>()],
  sg: [
    ['id', (s: SecurityGroup) => s.id],
    ['name', (s) => s.name],
    ['environment', (s) => s.environment_id],
    ['description', (s) => s.description ?? ''],
    ['rules', (s) => s.rules.map(ruleText).join(', ') || '(none)'],
    ...common<SecurityGroup>(),
  ],
  vm: [
    ['id', (v: Vm) => v.id],
    ['name', (v) => v.name],
    ['environment', (v) => v.environment_id],
    ['size', (v) => v.size],
    ['image', (v) => v.image],
    ['private ip', (v) => v.private_ip],
    ['status', (v) => v.status],
    ['progress', (v) => `${v.progress}%`],
    ['error', (v) => (v.error ? `${v.error.message} (${v.error.code})` : '')],
    ['security groups', (v) => v.security_group_ids.join(', ')],
    ['volumes', (v) => v.attached_volume_ids.join(', ')],
    ['operation', (v) => v.operation_id ?? ''],
    ...common<Vm>(),
  ],
  volume: [
    ['id', (v: Volume) => v.id],
    ['name', (v) => v.name],
    ['environment', (v) => v.environment_id],
    ['size', (v) => `${v.size_gb} GB`],
    ['type', (v) => v.type],
    ['status', (v) => v.status],
    ['progress', (v) => `${v.progress}%`],
    ['error', (v) => (v.error ? `${v.error.message} (${v.error.code})` : '')],
    ['attachment', (v) => (v.attachment ? `${v.attachment.vm_id} as ${v.attachment.device}` : '')],
    ['operation', (v) => v.operation_id ?? ''],
    ...common<Volume>(),
  ],
};

export const OP_COLUMNS: Column<Operation>[] = [
  { header: 'ID', value: (o) => o.id },
  { header: 'KIND', value: (o) => o.kind },
  { header: 'RESOURCE', value: (o) => o.resource_id },
  { header: 'STATUS', value: (o) => o.status },
  { header: 'PROGRESS', value: (o) => `${o.progress}%` },
  { header: 'MESSAGE', value: (o) => (o.error ? `${o.error.message} (${o.error.code})` : o.message) },
];

export const OP_FIELDS: Field<Operation>[] = [
  ['id', (o) => o.id],
  ['kind', (o) => o.kind],
  ['resource', (o) => `${o.resource_type} ${o.resource_id}`],
  ['environment', (o) => o.environment_id],
  ['status', (o) => o.status],
  ['progress', (o) => `${o.progress}%`],
  ['message', (o) => o.message],
  ['error', (o) => (o.error ? `${o.error.message} (${o.error.code})` : '')],
  ['created', (o) => age(o.created_at)],
  ['started', (o) => (o.started_at ? age(o.started_at) : '')],
  ['finished', (o) => (o.finished_at ? age(o.finished_at) : '')],
];
