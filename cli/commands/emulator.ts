import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { contextOf, type Ctx } from '../context.js';
import { CliError } from '../errors.js';
import { emitList, emitOne, say, writeJson } from '../output.js';
import { envScope } from '../resolve.js';
import { action, examples } from './shared.js';

// Emulator control (SPEC §11): reset, state export/import and snapshots, chaos rules, the clock.
// Thin: parse flags, one request, render the answer.

const exampleText = (lines: string[]) => `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Human durations: `90`, `90s`, `5m`, `1h30m`, `2d`, `1.5h`. Returns seconds. */
export function parseDuration(value: string): number {
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    if (n > 0) return n;
  }
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  const total = parts.reduce((n, m) => n + Number(m[1]) * UNITS[m[2]!]!, 0);
  if (!parts.length || parts.map((m) => m[0]).join('') !== text || total <= 0) {
    throw new InvalidArgumentError(`expected a duration such as 90s, 5m, 1h30m or 2d, got "${value}"`);
  }
  return total;
}

const integer = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
};

/** `--fail-operation CODE[@PROGRESS]`, e.g. `provisioning_failed@40`. */
export function parseFailOperation(value: string): { code: string; at_progress: number } {
  const m = /^([a-z][a-z0-9_]{0,62})(?:@(\d{1,3}))?$/.exec(value);
  if (!m || Number(m[2] ?? 50) > 100) throw new InvalidArgumentError(`expected CODE[@PROGRESS] such as provisioning_failed@40, got "${value}"`);
  return { code: m[1]!, at_progress: Number(m[2] ?? 50) };
}

interface Clock { now: string; time_scale: number; paused: boolean }
const clockFields: [string, (c: Clock) => string][] = [
  ['now', (c) => c.now],
  ['time scale', (c) => String(c.time_scale)],
  ['paused', (c) => (c.paused ? 'yes' : 'no')],
];

interface Summary { strategy: string; dry_run: boolean; added: number; changed: number; removed: number }
const summaryFields: [string, (s: Summary) => string][] = [
  ['strategy', (s) => s.strategy + (s.dry_run ? ' (dry run: nothing changed)' : '')],
  ['added', (s) => String(s.added)],
  ['changed', (s) => String(s.changed)],
  ['removed', (s) => String(s.removed)],
];

const body = async <T>(ctx: Ctx, method: 'GET' | 'POST' | 'DELETE', path: string, opts: { body?: unknown; query?: Record<string, string | undefined> } = {}) =>
  (await ctx.client.call(method, path, opts)).body as T;

export function registerEmulatorCommands(program: Command): void {
  examples(
    program
      .command('reset')
      .description('delete every resource and operation (or those of a project / an environment); operations in flight are cancelled')
      .option('--project <id>', 'only this project')
      .option('--env <env>', 'only this environment (ID or name)'),
    ['mockcloud reset', 'mockcloud reset --env staging'],
  ).action(
    action(async (flags: { project?: string; env?: string }, self: Command) => {
      const ctx = contextOf(self);
      const scope = { project_id: flags.project, environment_id: (await envScope(ctx.client, flags.env)).environmentId };
      const r = await body<Record<string, number>>(ctx, 'POST', '/api/v1/admin/reset', { body: scope });
      if (ctx.output === 'json') return writeJson(r);
      say(ctx, `reset: ${r.environments} environments, ${r.security_groups} security groups, ${r.vms} VMs, ${r.volumes} volumes deleted; ${r.cancelled} operations cancelled`);
    }),
  );

  const state = program.command('state').description('export, import, snapshot and restore the whole state');
  examples(state, ['mockcloud state export > state.json', 'mockcloud state import state.json --strategy merge --dry-run', 'mockcloud state snapshot baseline', 'mockcloud state restore baseline']);
  state
    .command('export')
    .description('write the state document (JSON) to stdout or a file')
    .option('--file <path>', 'write here instead of stdout')
    .addHelpText('after', exampleText(['mockcloud state export > state.json', 'mockcloud state export --file state.json']))
    .action(
      action(async (flags: { file?: string }, self: Command) => {
        const ctx = contextOf(self);
        const doc = await body<unknown>(ctx, 'GET', '/api/v1/admin/state');
        const text = `${JSON.stringify(doc, null, 2)}\n`;
        if (flags.file) {
          fs.writeFileSync(flags.file, text);
          say(ctx, `state written to ${flags.file}`);
        } else process.stdout.write(text);
      }),
    );
  state
    .command('import <file>')
    .description('load a state document (replace: everything becomes the document; merge: add and update only)')
    .addOption(new Option('--strategy <s>', 'replace or merge').choices(['replace', 'merge']).default('replace'))
    .option('--dry-run', 'only say what would be added, changed and removed')
    .addHelpText('after', exampleText(['mockcloud state import state.json', 'mockcloud state import state.json --strategy merge --dry-run']))
    .action(
      action(async (file: string, flags: { strategy: string; dryRun?: boolean }, self: Command) => {
        const ctx = contextOf(self);
        let doc: unknown;
        try {
          doc = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8'));
        } catch (err) {
          throw new CliError(`cannot read a JSON state document from ${file}: ${(err as Error).message}`, 'export one with `mockcloud state export --file FILE`');
        }
        const s = await body<Summary>(ctx, 'POST', '/api/v1/admin/state', { body: doc, query: { strategy: flags.strategy, dry_run: flags.dryRun ? 'true' : 'false' } });
        await emitOne(ctx, s, summaryFields);
      }),
    );
  state
    .command('snapshot <name>')
    .description('save the current state as a named snapshot (kept in the database)')
    .addHelpText('after', exampleText(['mockcloud state snapshot baseline']))
    .action(
      action(async (name: string, _flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        const snap = await body<{ name: string; created_at: string; resources: number }>(ctx, 'POST', '/api/v1/admin/snapshots', { body: { name } });
        if (ctx.output === 'json') return writeJson(snap);
        say(ctx, `snapshot ${snap.name} saved (${snap.resources} resources)`);
      }),
    );
  state
    .command('snapshots')
    .description('list the named snapshots')
    .addHelpText('after', exampleText(['mockcloud state snapshots', 'mockcloud state snapshots --output json']))
    .action(
      action(async (_flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        const { items } = await body<{ items: { name: string; created_at: string; resources: number; size_bytes: number }[] }>(ctx, 'GET', '/api/v1/admin/snapshots');
        await emitList(ctx, items.map((i) => ({ ...i, id: i.name })), [
          { header: 'NAME', value: (i) => i.name },
          { header: 'CREATED', value: (i) => i.created_at },
          { header: 'RESOURCES', value: (i) => String(i.resources) },
          { header: 'BYTES', value: (i) => String(i.size_bytes) },
        ], 'snapshots');
      }),
    );
  state
    .command('restore <name>')
    .description('replace the state with a named snapshot')
    .option('--dry-run', 'only say what would change')
    .addHelpText('after', exampleText(['mockcloud state restore baseline', 'mockcloud state restore baseline --dry-run']))
    .action(
      action(async (name: string, flags: { dryRun?: boolean }, self: Command) => {
        const ctx = contextOf(self);
        const s = await body<Summary>(ctx, 'POST', `/api/v1/admin/snapshots/${encodeURIComponent(name)}/restore`, { query: { dry_run: flags.dryRun ? 'true' : undefined } });
        await emitOne(ctx, s, summaryFields);
      }),
    );
  state
    .command('delete-snapshot <name>')
    .description('delete a named snapshot')
    .addHelpText('after', exampleText(['mockcloud state delete-snapshot baseline']))
    .action(
      action(async (name: string, _flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        await ctx.client.call('DELETE', `/api/v1/admin/snapshots/${encodeURIComponent(name)}`);
        say(ctx, `snapshot ${name} deleted`);
      }),
    );

  const chaos = program.command('chaos').description('fault injection: HTTP faults, latency, failing operations');
  examples(chaos, ['mockcloud chaos add --op createVm --status 503 --times 2', 'mockcloud chaos list', 'mockcloud chaos rm --all']);
  examples(
    chaos.command('add')
      .description('add a chaos rule: one effect (--status, --latency or --fail-operation), optionally --times or --probability')
      .option('--op <operationId>', 'match this operationId (see /openapi.yaml), e.g. createVm')
      .option('--method <method>', 'match this HTTP method')
      .option('--resource-type <type>', 'match environment, security_group, vm, volume or operation')
      .option('--project <id>', 'match this project')
      .option('--env <id>', 'match requests naming this environment ID')
      .option('--status <code>', 'answer this HTTP status (a house problem+json)', integer('--status', 400, 599))
      .option('--code <code>', 'the problem code (default: the usual one for the status)')
      .option('--retry-after <s>', 'Retry-After seconds for 429/503', integer('--retry-after', 0, 3600))
      .option('--latency <ms>', 'delay matching requests by this many milliseconds', integer('--latency', 0, 60000))
      .option('--jitter <ms>', 'plus up to this many milliseconds', integer('--jitter', 0, 60000))
      .option('--fail-operation <code[@progress]>', 'matching async operations fail with this code at this progress', parseFailOperation)
      .option('--times <n>', 'fire for the first N matching requests only', integer('--times', 1, 1_000_000))
      .option('--probability <p>', 'fire with this probability (seeded)', (v: string) => {
        const n = Number(v);
        if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`--probability must be from 0 to 1, got "${v}"`);
        return n;
      })
      .option('--seed <n>', 'seed for --probability', integer('--seed', 0, 2 ** 31 - 1)),
    ['mockcloud chaos add --op createVm --status 503 --times 2', 'mockcloud chaos add --op createVm --fail-operation provisioning_failed@40 --times 1', 'mockcloud chaos add --op listVms --latency 500 --jitter 100'],
  ).action(
    action(async (f: { op?: string; method?: string; resourceType?: string; project?: string; env?: string; status?: number; code?: string; retryAfter?: number; latency?: number; jitter?: number; failOperation?: { code: string; at_progress: number }; times?: number; probability?: number; seed?: number }, self: Command) => {
      const ctx = contextOf(self);
      const rule = {
        match: { operation_id: f.op, method: f.method?.toUpperCase(), resource_type: f.resourceType, project_id: f.project, environment_id: f.env },
        effect: { status: f.status, code: f.code, retry_after_s: f.retryAfter, latency_ms: f.latency, jitter_ms: f.jitter, fail_operation: f.failOperation },
        times: f.times,
        probability: f.probability,
        seed: f.seed,
      };
      const created = await body<{ id: string }>(ctx, 'POST', '/api/v1/admin/chaos/rules', { body: JSON.parse(JSON.stringify(rule)) });
      if (ctx.output === 'json') return writeJson(created);
      process.stdout.write(`${created.id}\n`);
    }),
  );
  interface Rule { id: string; match: Record<string, unknown>; effect: Record<string, unknown>; times: number | null; probability: number | null; matched: number; hits: number }
  chaos
    .command('list')
    .description('list chaos rules with their counters')
    .addHelpText('after', exampleText(['mockcloud chaos list', 'mockcloud chaos list --output json']))
    .action(
      action(async (_flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        const { items } = await body<{ items: Rule[] }>(ctx, 'GET', '/api/v1/admin/chaos/rules');
        await emitList(ctx, items, [
          { header: 'ID', value: (r) => r.id },
          { header: 'MATCH', value: (r) => Object.entries(r.match).map(([k, v]) => `${k}=${String(v)}`).join(' ') || '*' },
          { header: 'EFFECT', value: (r) => JSON.stringify(r.effect) },
          { header: 'WHEN', value: (r) => (r.times !== null ? `first ${r.times}` : r.probability !== null ? `p=${r.probability}` : 'always') },
          { header: 'HITS', value: (r) => `${r.hits}/${r.matched}` },
        ], 'chaos rules');
      }),
    );
  chaos
    .command('rm [id]')
    .description('remove a chaos rule, or all of them with --all')
    .option('--all', 'remove every rule')
    .addHelpText('after', exampleText(['mockcloud chaos rm chaos-0123456789abcdef', 'mockcloud chaos rm --all']))
    .action(
      action(async (id: string | undefined, flags: { all?: boolean }, self: Command) => {
        const ctx = contextOf(self);
        if (!id && !flags.all) throw new CliError('name a rule ID or pass --all', 'see `mockcloud chaos list`', 2);
        await ctx.client.call('DELETE', flags.all ? '/api/v1/admin/chaos/rules' : `/api/v1/admin/chaos/rules/${encodeURIComponent(id!)}`);
        say(ctx, flags.all ? 'every chaos rule removed' : `chaos rule ${id} removed`);
      }),
    );

  const clock = program.command('clock').description('the simulated clock: show it, advance it, pause or resume it');
  examples(clock, ['mockcloud clock', 'mockcloud clock advance 1h', 'mockcloud clock advance 90s', 'mockcloud clock pause']);
  clock.action(
    action(async (_flags: unknown, self: Command) => {
      const ctx = contextOf(self);
      await emitOne(ctx, await body<Clock>(ctx, 'GET', '/api/v1/admin/clock'), clockFields);
    }),
  );
  clock
    .command('advance <duration>')
    .description('jump simulated time forward (90s, 5m, 1h30m, 2d); what falls due meanwhile happens, in order')
    .addHelpText('after', exampleText(['mockcloud clock advance 1h', 'mockcloud clock advance 90s', 'mockcloud clock advance 1h30m']))
    .action(
      action(async (duration: string, _flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        let seconds: number;
        try {
          seconds = parseDuration(duration);
        } catch (err) {
          throw new CliError((err as Error).message, 'e.g. `mockcloud clock advance 1h30m`', 2);
        }
        await emitOne(ctx, await body<Clock>(ctx, 'POST', '/api/v1/admin/clock/advance', { body: { seconds } }), clockFields);
      }),
    );
  for (const verb of ['pause', 'resume'] as const) {
    clock
      .command(verb)
      .description(verb === 'pause' ? 'stop simulated time (operations stop progressing)' : 'let simulated time run again')
      .addHelpText('after', exampleText([`mockcloud clock ${verb}`]))
      .action(
        action(async (_flags: unknown, self: Command) => {
          const ctx = contextOf(self);
          await emitOne(ctx, await body<Clock>(ctx, 'POST', `/api/v1/admin/clock/${verb}`), clockFields);
        }),
      );
  }
}
