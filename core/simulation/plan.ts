import { AppError } from '../errors.js';
import { MACHINE, type OperationKind } from '../lifecycle/machine.js';
import type { Rng } from './rng.js';
import type { SimulationSettings } from './settings.js';

// An operation's whole simulated story is decided once, when it is submitted, and stored with it:
// how long it takes, whether it fails, where, and with which error. The worker only plays it back,
// so a worker that takes over after a crash continues the same story, and a seed reproduces it.

export interface Phase {
  at: number; // fraction of the duration at which this phase starts
  message: string;
}

export interface Plan {
  duration_ms: number;
  outcome: 'succeed' | 'fail';
  /** Fraction of the duration at which a failing operation fails. */
  fail_at: number;
  error: { code: string; message: string } | null;
  phases: Phase[];
}

const PHASES: Record<OperationKind, string[]> = {
  'vm.create': ['scheduling', 'allocating address', 'pulling image', 'booting', 'running cloud-init'],
  'vm.delete': ['shutting down', 'releasing address', 'deleting disks'],
  'vm.start': ['powering on', 'booting'],
  'vm.stop': ['shutting down guest', 'powering off'],
  'vm.reboot': ['shutting down guest', 'booting'],
  'volume.create': ['allocating', 'replicating', 'formatting'],
  'volume.delete': ['wiping', 'releasing capacity'],
  'volume.attach': ['attaching', 'waiting for device'],
  'volume.detach': ['flushing', 'detaching'],
};

const FAILURES: Record<'vm' | 'volume', { code: string; message: string }[]> = {
  vm: [
    { code: 'provisioning_failed', message: 'the hypervisor failed to provision the instance' },
    { code: 'host_capacity', message: 'no host in the zone has capacity for this size right now' },
    { code: 'image_corrupt', message: 'the image failed its checksum while being pulled' },
  ],
  volume: [
    { code: 'provisioning_failed', message: 'the storage backend failed to allocate the volume' },
    { code: 'insufficient_capacity', message: 'the storage pool has no capacity for this volume right now' },
  ],
};

export const OUTCOME_TAG = 'mockcloud:outcome';
export const DURATION_TAG = 'mockcloud:duration';

/** Validates the simulation tags on a resource at create/update time (422, never a surprise later). */
export function checkSimulationTags(tags: Record<string, string> | undefined): void {
  const outcome = tags?.[OUTCOME_TAG];
  if (outcome !== undefined && outcome !== 'succeed' && outcome !== 'fail') {
    throw new AppError('invalid_value', `tag ${OUTCOME_TAG} must be "succeed" or "fail", not "${outcome}"`, {
      errors: [{ path: `/body/tags/${OUTCOME_TAG}`, message: 'must be succeed or fail', code: 'invalid_value' }],
    });
  }
  const duration = tags?.[DURATION_TAG];
  if (duration !== undefined && !(/^\d+(\.\d+)?$/.test(duration) && Number(duration) <= 86400)) {
    throw new AppError('invalid_value', `tag ${DURATION_TAG} must be a number of seconds from 0 to 86400, not "${duration}"`, {
      errors: [{ path: `/body/tags/${DURATION_TAG}`, message: 'must be seconds, 0–86400', code: 'invalid_value' }],
    });
  }
}

export interface PlanInput {
  kind: OperationKind;
  settings: SimulationSettings;
  rng: Rng;
  /** What makes this decision reproducible: environment name, resource name, operation ordinal. */
  key: (string | number)[];
  tags: Record<string, string>;
}

export function planOperation({ kind, settings, rng, key, tags }: PlanInput): Plan {
  const k = settings.operations[kind];
  const spec = MACHINE[kind];
  const tagDuration = tags[DURATION_TAG];
  const seconds = tagDuration !== undefined ? Number(tagDuration) : k.min_s + (k.max_s - k.min_s) * rng(...key, 'duration');
  const duration_ms = Math.round(seconds * 1000 * settings.time_scale);
  const tagOutcome = spec.isCreate ? tags[OUTCOME_TAG] : undefined;
  const fails = tagOutcome !== undefined ? tagOutcome === 'fail' : rng(...key, 'fails') < k.failure_rate;
  const names = PHASES[kind];
  const phases = names.map((message, i) => ({ at: i / names.length, message }));
  if (!fails) return { duration_ms, outcome: 'succeed', fail_at: 1, error: null, phases };
  const choices = FAILURES[spec.resource];
  const error = tagOutcome === 'fail'
    ? { code: 'provisioning_failed', message: `forced to fail by the ${OUTCOME_TAG}=fail tag` }
    : choices[Math.floor(rng(...key, 'error') * choices.length)]!;
  return { duration_ms, outcome: 'fail', fail_at: 0.3 + 0.6 * rng(...key, 'fail_at'), error, phases };
}

/** The phase message at a given fraction of the duration. */
export function phaseAt(plan: Plan, fraction: number): string {
  let message = plan.phases[0]?.message ?? 'working';
  for (const p of plan.phases) if (fraction >= p.at) message = p.message;
  return message;
}
