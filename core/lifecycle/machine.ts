// Every asynchronous operation as one row of a table: which states it starts from, the
// transitional state it holds while it runs, and where it lands. Services consult it to start an
// operation; the engine consults it to finish one. Nothing else decides a state transition.

export type ResourceType = 'vm' | 'volume';

/** Each kind's table; its other traits are its descriptor (core/kinds.ts). */
export const TABLES: Record<ResourceType, string> = { vm: 'vms', volume: 'volumes' };

export const OPERATION_KINDS = [
  'vm.create',
  'vm.delete',
  'vm.start',
  'vm.stop',
  'vm.reboot',
  'volume.create',
  'volume.delete',
  'volume.attach',
  'volume.detach',
] as const;

export type OperationKind = (typeof OPERATION_KINDS)[number];

export interface Transition {
  resource: ResourceType;
  /** States the action is allowed from; null for creates (the resource is born in `during`). */
  from: readonly string[] | null;
  during: string;
  /** null: the resource is gone when the operation succeeds. */
  success: string | null;
  /** Where a failed operation leaves the resource; `error` also records the error on it. */
  failure: string;
  /** Counts towards the top-level (create) failure rate. */
  isCreate: boolean;
}

export const MACHINE: Record<OperationKind, Transition> = {
  'vm.create': { resource: 'vm', from: null, during: 'creating', success: 'running', failure: 'error', isCreate: true },
  'vm.delete': { resource: 'vm', from: ['running', 'stopped', 'error'], during: 'deleting', success: null, failure: 'error', isCreate: false },
  'vm.start': { resource: 'vm', from: ['stopped'], during: 'starting', success: 'running', failure: 'stopped', isCreate: false },
  'vm.stop': { resource: 'vm', from: ['running'], during: 'stopping', success: 'stopped', failure: 'running', isCreate: false },
  'vm.reboot': { resource: 'vm', from: ['running'], during: 'rebooting', success: 'running', failure: 'error', isCreate: false },
  'volume.create': { resource: 'volume', from: null, during: 'creating', success: 'available', failure: 'error', isCreate: true },
  'volume.delete': { resource: 'volume', from: ['available', 'error'], during: 'deleting', success: null, failure: 'error', isCreate: false },
  'volume.attach': { resource: 'volume', from: ['available'], during: 'attaching', success: 'in-use', failure: 'available', isCreate: false },
  'volume.detach': { resource: 'volume', from: ['in-use'], during: 'detaching', success: 'available', failure: 'in-use', isCreate: false },
};

export const isOperationKind = (k: string): k is OperationKind => (OPERATION_KINDS as readonly string[]).includes(k);
