import { Command, Option } from 'commander';
import type { Vm, Volume } from '../../core/api.js';
import { RESOURCES, type Accepted, type Item, type ResourceKind } from '../api-client.js';
import { contextOf, type Ctx } from '../context.js';
import { emitJson, emitList, emitOne, say } from '../output.js';
import { envScope, resolve } from '../resolve.js';
import { columns, fields } from '../views.js';
import { CliError } from '../errors.js';
import { waitForOperation } from '../wait.js';
import { action, examples, parseIntFlag, parseTag, tagQuery } from './shared.js';

// list / get / delete are the same for every resource; create and update live with their group.

interface ListFlags {
  env?: string;
  name?: string;
  status?: string;
  tag?: Record<string, string>;
  limit?: number;
}

export function addList(group: Command, kind: ResourceKind): Command {
  const noun = RESOURCES[kind].noun;
  const cmd = group
    .command('list')
    .alias('ls')
    .description(`list ${noun}s (every page; --output json prints a JSON array of the API objects)`)
    .option('--name <name>', 'only this exact name')
    .option('--status <status>', 'only this status')
    .option('--tag <key=value>', 'only with this tag (repeatable)', parseTag)
    .option('--limit <n>', 'at most this many', parseIntFlag('--limit', 1));
  if (kind !== 'env') cmd.option('--env <env>', 'only in this environment (ID or name)');
  examples(cmd, [
    `mockcloud ${kind} list`,
    ...(kind !== 'env' ? [`mockcloud ${kind} list --env prod --output json`] : [`mockcloud ${kind} list --output json`]),
    `mockcloud ${kind} list --tag team=infra --quiet`,
  ]);
  return cmd.action(
    action(async (flags: ListFlags, self: Command) => {
      const ctx = contextOf(self);
      const scope = await envScope(ctx.client, flags.env);
      const items = await ctx.client.listAll(kind, { name: flags.name, status: flags.status, environment_id: scope.environmentId, ...tagQuery(flags.tag) }, flags.limit);
      if (showsTable(ctx)) await learnNames(ctx, kind, items as Item<ResourceKind>[]);
      await emitList(ctx, items as { id: string }[], columns(ctx.client)[kind] as never, PLURAL[kind]);
    }),
  );
}

export function addGet(group: Command, kind: ResourceKind): Command {
  const noun = RESOURCES[kind].noun;
  const cmd = group.command('get').alias('show').description(`show one ${noun}`).argument(`<${kind}>`, `${noun} ID or name`);
  if (kind !== 'env') cmd.option('--env <env>', 'environment of a named resource (ID or name)');
  examples(cmd, [`mockcloud ${kind} get ${RESOURCES[kind].prefix}…`, `mockcloud ${kind} get web${kind !== 'env' ? ' --env prod' : ''} --output json`]);
  return cmd.action(
    action(async (ref: string, flags: { env?: string }, self: Command) => {
      const ctx = contextOf(self);
      const item = await resolve(ctx.client, kind, ref, await envScope(ctx.client, flags.env));
      if (showsTable(ctx)) await learnNames(ctx, kind, [item]);
      await emitOne(ctx, item, fields(ctx.client)[kind] as never);
    }),
  );
}

export function addDelete(group: Command, kind: ResourceKind): Command {
  const { noun, async } = RESOURCES[kind];
  const cmd = group.command('delete').alias('rm').description(`delete a ${noun}`).argument(`<${kind}>`, `${noun} ID or name`);
  if (kind !== 'env') cmd.option('--env <env>', 'environment of a named resource (ID or name)');
  if (async) cmd.addOption(waitOption());
  // No environment variable on purpose: a standing "never ask" is what --force must not become.
  if (kind === 'vm') cmd.option('--force', 'delete a VM that has volumes attached without asking (they are detached and kept)');
  examples(cmd, [
    `mockcloud ${kind} delete ${RESOURCES[kind].prefix}…`,
    async ? `mockcloud ${kind} delete web --env prod --wait` : `mockcloud ${kind} delete web`,
    ...(kind === 'vm' ? ['mockcloud vm delete db --env prod --force   # has volumes: detach them without asking'] : []),
  ]);
  return cmd.action(
    action(async (ref: string, flags: { env?: string; wait?: boolean; force?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const item = await resolve(ctx.client, kind, ref, await envScope(ctx.client, flags.env));
      if (kind === 'vm') await confirmCascade(ctx, item as Vm, Boolean(flags.force));
      const res = await ctx.client.remove(kind, item.id);
      if (!async) {
        if (ctx.output === 'json' || ctx.query) emitJson(ctx, item);
        else if (ctx.quiet) process.stdout.write(`${item.id}\n`);
        else say(ctx, `deleted ${noun} ${item.name} (${item.id})`);
        return;
      }
      await finishAsync(ctx, kind, { ...res, resource: res.resource ?? item }, { wait: Boolean(flags.wait), gone: true, verb: 'deleting' });
    }),
  );
}

export function waitOption(): Option {
  return new Option('-w, --wait', 'wait for the operation to finish, showing its progress (exit 1 if it fails)').env('MOCKCLOUD_WAIT');
}

/**
 * After a 202: without --wait, print the resource in its transitional state; with it, follow the
 * operation, then print the settled resource (or, for a delete, the finished operation).
 */
export async function finishAsync<K extends ResourceKind>(
  ctx: Ctx,
  kind: K,
  res: Accepted<Item<K>>,
  opts: { wait: boolean; gone?: boolean; verb: string },
): Promise<void> {
  const noun = RESOURCES[kind].noun;
  const resource = res.resource;
  if (!opts.wait) {
    await emitOne(ctx, resource, fields(ctx.client)[kind] as never);
    say(ctx, `${noun} ${resource.name} (${resource.id}) is ${opts.verb}${res.operationId ? ` (operation ${res.operationId})` : ''}; follow it with \`mockcloud tail ${resource.id}\``);
    return;
  }
  const op = await waitForOperation(ctx, { operationId: res.operationId, resourceId: resource.id });
  if (opts.gone) {
    if (ctx.output === 'json' || ctx.query) emitJson(ctx, op);
    else if (ctx.quiet) process.stdout.write(`${resource.id}\n`);
    return;
  }
  await emitOne(ctx, await ctx.client.get(kind, resource.id), fields(ctx.client)[kind] as never);
}

const PLURAL: Record<ResourceKind, string> = { env: 'environments', sg: 'security groups', vm: 'VMs', volume: 'volumes' };

const showsTable = (ctx: Ctx) => ctx.output !== 'json' && !ctx.query && !ctx.quiet;

/**
 * Tables and details show the environments, VMs, volumes and groups a resource points at by name:
 * a request or two fill the client's names for them. Only for human output; JSON is the API objects.
 */
export async function learnNames(ctx: Ctx, kind: ResourceKind, items: Item<ResourceKind>[]): Promise<void> {
  if (kind === 'env' || items.length === 0) return;
  const envIds = new Set(items.map((i) => (i as { environment_id: string }).environment_id));
  const envs = envIds.size === 1 ? [envIds.values().next().value!] : undefined;
  if (envs && !ctx.client.names.has(envs[0]!)) await ctx.client.get('env', envs[0]!).catch(() => undefined);
  else if (!envs) await ctx.client.listAll('env', {}, 1000).catch(() => undefined);
  const refs = items.flatMap((i) => {
    const x = i as Partial<Vm & Volume>;
    return [...(x.security_group_ids ?? []), ...(x.attached_volume_ids ?? []), ...(x.attachment ? [x.attachment.vm_id] : [])];
  });
  const unknown = [...new Set(refs)].filter((id) => !ctx.client.names.has(id));
  // A handful of IDs: one GET each; many (a long volume list): the lists of their kinds at once.
  if (unknown.length <= 5) {
    await Promise.all(unknown.map((id) => ctx.client.get(id.startsWith('sg-') ? 'sg' : id.startsWith('vm-') ? 'vm' : 'volume', id).catch(() => undefined)));
  } else {
    const kinds = new Set(unknown.map((id) => (id.startsWith('sg-') ? 'sg' : id.startsWith('vm-') ? 'vm' : 'volume') as ResourceKind));
    await Promise.all([...kinds].map((k) => ctx.client.listAll(k, {}, 2000).catch(() => undefined)));
  }
}

/**
 * Deleting a VM detaches its volumes. As `gh repo delete` and `doctl … delete` do: on a terminal we
 * say what else changes and ask; without a terminal (a script, CI) we refuse unless --force says
 * the caller knows. A VM without volumes is deleted without a question.
 */
async function confirmCascade(ctx: Ctx, vm: Vm, force: boolean): Promise<void> {
  const volumes = vm.attached_volume_ids ?? [];
  if (volumes.length === 0) return;
  await learnNames(ctx, 'vm', [vm]);
  const what = `VM ${vm.name} (${vm.id}) has ${volumes.length} volume${volumes.length === 1 ? '' : 's'} attached: ${volumes.map((id) => ctx.client.label(id)).join(', ')}; deleting it detaches ${volumes.length === 1 ? 'it' : 'them'} (the volumes are kept)`;
  if (force) return say(ctx, what);
  if (!(process.stdin.isTTY && ctx.stderrTty)) throw new CliError(what, 'add --force to delete it anyway (nothing can be asked without a terminal)', 2);
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}.\nDelete it? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(`VM ${vm.name} was not deleted`);
  } finally {
    rl.close();
  }
}
