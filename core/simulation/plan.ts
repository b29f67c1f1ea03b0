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
  /** The time scale at submission (durations above are simulated time); used for polling hints. */
  time_scale?: number;
}

/** When the plan's outcome takes effect, in simulated ms (earlier than the end for a failure). */
export const planEndMs = (startedMs: number, plan: Plan) => startedMs + Math.round(plan.duration_ms * (plan.outcome === 'fail' ? plan.fail_at : 1));

/** A fault injected by a chaos rule at submission: the operation fails at this progress. */
export interface ForcedFailure {
  code: string;
  message: string;
  at_progress: number;
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
  forced?: ForcedFailure;
}

export function planOperation({ kind, settings, rng, key, tags, forced }: PlanInput): Plan {
  const k = settings.operations[kind];
  const spec = MACHINE[kind];
  const tagDuration = tags[DURATION_TAG];
  const seconds = tagDuration !== undefined ? Number(tagDuration) : k.min_s + (k.max_s - k.min_s) * rng(...key, 'duration');
  // Durations are simulated time: the clock runs at 1 / time_scale, so time_scale 0.01 plays a 45 s
  // create in 0.45 s of wall time. Scale 0 means "instant": the operation takes no simulated time.
  const duration_ms = settings.time_scale === 0 ? 0 : Math.round(seconds * 1000);
  const time_scale = settings.time_scale;
  const tagOutcome = spec.isCreate ? tags[OUTCOME_TAG] : undefined;
  const fails = tagOutcome !== undefined ? tagOutcome === 'fail' : rng(...key, 'fails') < k.failure_rate;
  const names = PHASES[kind];
  const phases = names.map((message, i) => ({ at: i / names.length, message }));
  if (forced) {
    const error = { code: forced.code, message: forced.message };
    return { duration_ms, outcome: 'fail', fail_at: Math.min(1, Math.max(0, forced.at_progress / 100)), error, phases, time_scale };
  }
  if (!fails) return { duration_ms, outcome: 'succeed', fail_at: 1, error: null, phases, time_scale };
  const choices = FAILURES[spec.resource];
  const error = tagOutcome === 'fail'
    ? { code: 'provisioning_failed', message: `forced to fail by the ${OUTCOME_TAG}=fail tag` }
    : choices[Math.floor(rng(...key, 'error') * choices.length)]!;
  return { duration_ms, outcome: 'fail', fail_at: 0.3 + 0.6 * rng(...key, 'fail_at'), error, phases, time_scale };
}

/** The phase message at a given fraction of the duration. */
export function phaseAt(plan: Plan, fraction: number): string {
  let message = plan.phases[0]?.message ?? 'working';
  for (const p of plan.phases) if (fraction >= p.at) message = p.message;
  return message;
}
