import { Command, InvalidArgumentError } from 'commander';
import type { Simulation, SimulationPatch } from '../../core/api.js';
import { DEFAULT_DURATIONS } from '../../core/simulation/settings.js';
import { contextOf, type Ctx } from '../context.js';
import { emitOne, say } from '../output.js';
import { action, examples, parseNumberFlag, requireSomething } from './shared.js';

type OpSettings = NonNullable<SimulationPatch['operations']>;
const OP_KEYS = new Set(['min_s', 'max_s', 'failure_rate']);

/** `--op vm.create:min_s=1,max_s=2,failure_rate=0`, repeatable. */
export function parseOpSetting(value: string, previous: OpSettings = {}): OpSettings {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new InvalidArgumentError(`expected KIND:key=value,… (e.g. vm.create:min_s=1,max_s=2), got "${value}"`);
  const kind = value.slice(0, colon);
  const settings: Record<string, number> = {};
  for (const pair of value.slice(colon + 1).split(',').filter(Boolean)) {
    const [key, raw] = pair.split('=');
    if (!key || !OP_KEYS.has(key)) throw new InvalidArgumentError(`unknown setting "${key}" (use min_s, max_s, failure_rate)`);
    const n = Number(raw);
    if (raw === undefined || raw === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${key} must be a number, got "${raw ?? ''}"`);
    settings[key] = n;
  }
  if (Object.keys(settings).length === 0) throw new InvalidArgumentError(`"${value}" sets nothing`);
  return { ...previous, [kind]: { ...(previous as Record<string, object>)[kind], ...settings } } as OpSettings;
}

function parseSeed(value: string): number | null {
  if (value === 'random' || value === 'none') return null;
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`--seed must be an integer or "random", got "${value}"`);
  return Number(value);
}

const percent = (r: number) => `${Math.round(r * 1000) / 10}%`;

/** What a kind would do with no per-kind setting: SPEC §5 durations, creates fail at the top-level rate. */
function defaultsOf(kind: string, s: Simulation): { min_s: number; max_s: number; failure_rate: number } | undefined {
  const durations = (DEFAULT_DURATIONS as Record<string, [number, number]>)[kind];
  if (!durations) return undefined;
  return { min_s: durations[0], max_s: durations[1], failure_rate: kind.endsWith('.create') ? s.failure_rate : 0 };
}

/** The per-kind settings that differ from the defaults: what `sim get` marks and `sim reset` clears. */
export function overridesOf(s: Simulation): { kind: string; what: string[] }[] {
  const out: { kind: string; what: string[] }[] = [];
  for (const [kind, o] of Object.entries(s.operations ?? {})) {
    const d = defaultsOf(kind, s);
    if (!o || !d) continue;
    const what: string[] = [];
    if (o.min_s !== d.min_s || o.max_s !== d.max_s) what.push(`${o.min_s}–${o.max_s} s`);
    if (o.failure_rate !== d.failure_rate) what.push(`fails ${percent(o.failure_rate)}`);
    if (what.length) out.push({ kind, what });
  }
  return out;
}

function fieldsOf(s: Simulation): [string, (s: Simulation) => string][] {
  const overridden = new Set(overridesOf(s).map((o) => o.kind));
  return [
    ['time scale', (x) => String(x.time_scale)],
    ['seed', (x) => (x.seed === null ? 'random' : String(x.seed))],
    ['failure rate', (x) => `${x.failure_rate} (create operations)`],
    ...Object.keys(s.operations ?? {}).map(
      (kind) =>
        [kind, (x: Simulation) => {
          const o = x.operations?.[kind as keyof Simulation['operations']];
          return o ? `${o.min_s}–${o.max_s} s, fails ${percent(o.failure_rate)}${overridden.has(kind) ? '  (override)' : ''}` : '';
        }] as [string, (s: Simulation) => string],
    ),
  ];
}

/** After `sim set`: a per-kind failure rate the new top-level rate does not reach is easy to miss. */
function warnShadowed(ctx: Ctx, s: Simulation, patch: SimulationPatch): void {
  if (patch.failure_rate === undefined) return;
  const shadowed = Object.entries(s.operations ?? {}).filter(([kind, o]) => kind.endsWith('.create') && o && o.failure_rate !== s.failure_rate);
  for (const [kind, o] of shadowed) {
    say(ctx, `note: ${kind} keeps its own failure rate ${percent(o!.failure_rate)} (an --op override), not ${percent(s.failure_rate)}; \`mockcloud sim reset\` clears per-kind overrides`);
  }
}

export function registerSimCommands(program: Command): void {
  const sim = program.command('sim').alias('simulation').description('simulation settings: durations, failure rates, seed (admin-only when auth is on)');
  examples(sim, ['mockcloud sim get', 'mockcloud sim set --time-scale 0.1 --failure-rate 0 --seed 7']);

  examples(sim.command('get').description('show the simulation settings'), ['mockcloud sim get', 'mockcloud sim get --output json']).action(
    action(async (_flags: unknown, self: Command) => {
      const ctx = contextOf(self);
      const current = await ctx.client.getSimulation();
      await emitOne(ctx, current, fieldsOf(current));
    }),
  );

  examples(
    sim
      .command('set')
      .description('change simulation settings (takes effect for operations started afterwards)')
      .option('--time-scale <n>', 'multiplies every duration: 1 realistic, 0.01 fast, 0 instant', parseNumberFlag('--time-scale', 0, 1000))
      .option('--failure-rate <r>', 'failure rate of create operations, 0–1', parseNumberFlag('--failure-rate', 0, 1))
      .option('--seed <n>', 'an integer for reproducible runs, or "random"', parseSeed)
      .option('--op <kind:settings>', 'per-kind settings KIND:min_s=N,max_s=N,failure_rate=R (repeatable)', parseOpSetting),
    ['mockcloud sim set --time-scale 0.1 --failure-rate 0 --seed 7', 'mockcloud sim set --op vm.create:min_s=1,max_s=2,failure_rate=0', 'mockcloud sim set --seed random'],
  ).action(
    action(async (flags: { timeScale?: number; failureRate?: number; seed?: number | null; op?: OpSettings }, self: Command) => {
      const ctx = contextOf(self);
      const patch: SimulationPatch = { time_scale: flags.timeScale, failure_rate: flags.failureRate, seed: flags.seed, operations: flags.op };
      requireSomething(patch, '--time-scale, --failure-rate, --seed, --op');
      const updated = await ctx.client.updateSimulation(patch);
      await emitOne(ctx, updated, fieldsOf(updated));
      warnShadowed(ctx, updated, patch);
    }),
  );

  examples(
    sim
      .command('reset')
      .description('drop every per-kind override (--op), so each kind follows the defaults and the top-level failure rate again')
      .option('--all', 'also set time scale 1, failure rate 0.1 and a random seed (the SPEC defaults)'),
    ['mockcloud sim reset', 'mockcloud sim reset --all'],
  ).action(
    action(async (flags: { all?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const current = await ctx.client.getSimulation();
      const operations = Object.fromEntries(Object.keys(current.operations ?? {}).map((kind) => [kind, null])) as SimulationPatch['operations'];
      const patch: SimulationPatch = flags.all ? { operations, time_scale: 1, failure_rate: 0.1, seed: null } : { operations };
      const updated = await ctx.client.updateSimulation(patch);
      await emitOne(ctx, updated, fieldsOf(updated));
    }),
  );
}
