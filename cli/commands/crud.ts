import { Command, Option } from 'commander';
import { RESOURCES, type Accepted, type Item, type ResourceKind } from '../api-client.js';
import { contextOf, type Ctx } from '../context.js';
import { emitList, emitOne, say, writeJson } from '../output.js';
import { envScope, resolve } from '../resolve.js';
import { COLUMNS, FIELDS } from '../views.js';
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
      await emitList(ctx, items as { id: string }[], COLUMNS[kind] as never);
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
      await emitOne(ctx, item, FIELDS[kind] as never);
    }),
  );
}

export function addDelete(group: Command, kind: ResourceKind): Command {
  const { noun, async } = RESOURCES[kind];
  const cmd = group.command('delete').alias('rm').description(`delete a ${noun}`).argument(`<${kind}>`, `${noun} ID or name`);
  if (kind !== 'env') cmd.option('--env <env>', 'environment of a named resource (ID or name)');
  if (async) cmd.addOption(waitOption());
  examples(cmd, [`mockcloud ${kind} delete ${RESOURCES[kind].prefix}…`, async ? `mockcloud ${kind} delete web --env prod --wait` : `mockcloud ${kind} delete web`]);
  return cmd.action(
    action(async (ref: string, flags: { env?: string; wait?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const item = await resolve(ctx.client, kind, ref, await envScope(ctx.client, flags.env));
      const res = await ctx.client.remove(kind, item.id);
      if (!async) {
        if (ctx.output === 'json') writeJson(item);
        else if (ctx.quiet) process.stdout.write(`${item.id}\n`);
        else say(ctx, `deleted ${noun} ${item.id} (${item.name})`);
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
    await emitOne(ctx, resource, FIELDS[kind] as never);
    say(ctx, `${noun} ${resource.id} is ${opts.verb}${res.operationId ? ` (operation ${res.operationId})` : ''}; follow it with \`mockcloud tail ${resource.id}\``);
    return;
  }
  const op = await waitForOperation(ctx, { operationId: res.operationId, resourceId: resource.id });
  if (opts.gone) {
    if (ctx.output === 'json') writeJson(op);
    else if (ctx.quiet) process.stdout.write(`${resource.id}\n`);
    return;
  }
  await emitOne(ctx, await ctx.client.get(kind, resource.id), FIELDS[kind] as never);
}
