import { AppError, type FieldError } from '../errors.js';
import { MACHINE, OPERATION_KINDS, type OperationKind } from '../lifecycle/machine.js';

export interface KindSettings {
  min_s: number;
  max_s: number;
  failure_rate: number;
}

/** What GET /simulation shows: every kind's effective settings. */
export interface SimulationSettings {
  time_scale: number;
  seed: number | null;
  failure_rate: number;
  operations: Record<OperationKind, KindSettings>;
}

/** What is stored: the top-level values and only the per-kind values someone set. */
export interface StoredSimulation {
  time_scale: number;
  seed: number | null;
  failure_rate: number;
  operations: Partial<Record<OperationKind, Partial<KindSettings>>>;
}

// SPEC §5 defaults. Create failures follow the top-level failure_rate unless a kind overrides it.
export const DEFAULT_DURATIONS: Record<OperationKind, [number, number]> = {
  'vm.create': [30, 60],
  'vm.delete': [5, 15],
  'vm.start': [5, 20],
  'vm.stop': [5, 20],
  'vm.reboot': [5, 20],
  'volume.create': [30, 60],
  'volume.delete': [5, 15],
  'volume.attach': [2, 5],
  'volume.detach': [2, 5],
};

export function effectiveSettings(s: StoredSimulation): SimulationSettings {
  const operations = {} as Record<OperationKind, KindSettings>;
  for (const kind of OPERATION_KINDS) {
    const [min, max] = DEFAULT_DURATIONS[kind];
    const o = s.operations[kind] ?? {};
    operations[kind] = {
      min_s: o.min_s ?? min,
      max_s: o.max_s ?? max,
      failure_rate: o.failure_rate ?? (MACHINE[kind].isCreate ? s.failure_rate : 0),
    };
  }
  return { time_scale: s.time_scale, seed: s.seed, failure_rate: s.failure_rate, operations };
}

export interface SimulationPatch {
  time_scale?: number;
  seed?: number | null;
  failure_rate?: number;
  operations?: Partial<Record<string, Partial<KindSettings> | null>>;
}

/** Merge patch of the stored settings; refuses a kind whose min_s would exceed its max_s. */
export function applyPatch(current: StoredSimulation, patch: SimulationPatch): StoredSimulation {
  const next: StoredSimulation = {
    time_scale: patch.time_scale ?? current.time_scale,
    seed: patch.seed === undefined ? current.seed : patch.seed,
    failure_rate: patch.failure_rate ?? current.failure_rate,
    operations: { ...current.operations },
  };
  for (const [kind, o] of Object.entries(patch.operations ?? {})) {
    const k = kind as OperationKind;
    if (o === null) delete next.operations[k];
    else next.operations[k] = { ...next.operations[k], ...o };
  }
  const errors: FieldError[] = [];
  const eff = effectiveSettings(next);
  for (const kind of OPERATION_KINDS) {
    const o = eff.operations[kind];
    if (o.min_s > o.max_s) errors.push({ path: `/body/operations/${kind}`, message: `min_s ${o.min_s} is greater than max_s ${o.max_s}`, code: 'invalid_range' });
  }
  if (errors.length) throw new AppError('invalid_value', errors.map((e) => e.message).join('; '), { errors });
  return next;
}
