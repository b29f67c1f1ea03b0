import type { ResourceKind } from './lifecycle/kind.js';
import type { ResourceType } from './lifecycle/machine.js';
import { vmKind } from './vms/kind.js';
import { volumeKind } from './volumes/kind.js';

/** Every asynchronous resource kind; the lifecycle looks kinds up here and nowhere else. */
export const KINDS: Record<ResourceType, ResourceKind> = {
  vm: vmKind as unknown as ResourceKind,
  volume: volumeKind as unknown as ResourceKind,
};
