import { Command, InvalidArgumentError } from 'commander';
import type { Simulation, SimulationPatch } from '../../core/api.js';
import { contextOf } from '../context.js';
import { emitOne } from '../output.js';
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

const fields: [string, (s: Simulation) => string][] = [
  ['time scale', (s) => String(s.time_scale)],
  ['seed', (s) => (s.seed === null ? 'random' : String(s.seed))],
  ['failure rate', (s) => String(s.failure_rate)],
  ...(['vm.create', 'vm.delete', 'vm.start', 'vm.stop', 'vm.reboot', 'vm.update', 'volume.create', 'volume.delete', 'volume.attach', 'volume.detach', 'volume.update'] as const).map(
    (kind) => [kind, (s: Simulation) => {
      const o = s.operations?.[kind];
      return o ? `${o.min_s}–${o.max_s} s, fails ${o.failure_rate * 100}%` : '';
    }] as [string, (s: Simulation) => string],
  ),
];

export function registerSimCommands(program: Command): void {
  const sim = program.command('sim').alias('simulation').description('simulation settings: durations, failure rates, seed (admin-only when auth is on)');
  examples(sim, ['mockcloud sim get', 'mockcloud sim set --time-scale 0.1 --failure-rate 0 --seed 7']);

  examples(sim.command('get').description('show the simulation settings'), ['mockcloud sim get', 'mockcloud sim get --output json']).action(
    action(async (_flags: unknown, self: Command) => {
      const ctx = contextOf(self);
      await emitOne(ctx, await ctx.client.getSimulation(), fields);
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
      await emitOne(ctx, await ctx.client.updateSimulation(patch), fields);
    }),
  );
}
