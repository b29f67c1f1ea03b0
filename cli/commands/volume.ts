import { Command, Option } from 'commander';
import type { VolumePatch } from '../../core/api.js';
import { contextOf } from '../context.js';
import { envScope, resolve, resolveId } from '../resolve.js';
import { addDelete, addGet, addList, finishAsync, waitOption } from './crud.js';
import { action, examples, parseIntFlag, parseTag, parseUntag, requireSomething, tagsPatch } from './shared.js';

export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').alias('vol').description('block volumes (asynchronous: create, delete, attach and detach run as operations)');
  examples(volume, ['mockcloud volume create data --env prod --size 100 --wait', 'mockcloud volume attach data web --env prod --wait', 'mockcloud volume detach data --env prod']);

  examples(
    volume
      .command('create')
      .description('create a volume (answers at once with the volume `creating`; --wait follows it to `available`)')
      .argument('<name>', 'name, unique in the environment')
      .requiredOption('--env <env>', 'environment (ID or name)')
      .requiredOption('--size <gb>', 'size in GB, 1–16384', parseIntFlag('--size', 1, 16384))
      .addOption(new Option('--type <type>', 'volume type').choices(['standard', 'ssd']))
      .option('--tag <key=value>', 'a tag (repeatable); mockcloud:outcome=succeed|fail and mockcloud:duration=<s> steer the simulation', parseTag)
      .addOption(waitOption()),
    ['mockcloud volume create data --env prod --size 100 --type ssd --wait', 'VOL=$(mockcloud volume create scratch --env ci --size 10 --quiet)'],
  ).action(
    action(async (name: string, flags: { env: string; size: number; type?: 'standard' | 'ssd'; tag?: Record<string, string>; wait?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const environmentId = await resolveId(ctx.client, 'env', flags.env);
      const res = await ctx.client.create('volume', { name, environment_id: environmentId, size_gb: flags.size, type: flags.type, tags: flags.tag });
      await finishAsync(ctx, 'volume', res, { wait: Boolean(flags.wait), verb: 'creating' });
    }),
  );

  addList(volume, 'volume');
  addGet(volume, 'volume');

  examples(
    volume
      .command('update')
      .description('rename, grow (never shrink) or change tags')
      .argument('<volume>', 'volume ID or name')
      .option('--env <env>', 'environment of a named volume (ID or name)')
      .option('--name <name>', 'new name')
      .option('--size <gb>', 'new size in GB (may only grow)', parseIntFlag('--size', 1, 16384))
      .option('--tag <key=value>', 'set a tag (repeatable)', parseTag)
      .option('--untag <key>', 'remove a tag (repeatable)', parseUntag)
      .addOption(waitOption()),
    ['mockcloud volume update data --env prod --size 200 --wait', 'mockcloud volume update vol-… --name logs'],
  ).action(
    action(async (ref: string, flags: { env?: string; name?: string; size?: number; tag?: Record<string, string>; untag?: string[]; wait?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const patch: VolumePatch = { name: flags.name, size_gb: flags.size, tags: tagsPatch(flags.tag, flags.untag) };
      requireSomething(patch, '--name, --size, --tag, --untag');
      const id = await resolveId(ctx.client, 'volume', ref, await envScope(ctx.client, flags.env));
      const res = await ctx.client.update('volume', id, patch);
      await finishAsync(ctx, 'volume', res, { wait: Boolean(flags.wait) && res.status === 202, verb: 'updating' });
    }),
  );

  examples(
    volume
      .command('attach')
      .description('attach a volume to a running VM of the same environment (devices /dev/vdb… in order)')
      .argument('<volume>', 'volume ID or name')
      .argument('<vm>', 'VM ID or name')
      .option('--env <env>', 'environment of named resources (ID or name)')
      .addOption(waitOption()),
    ['mockcloud volume attach data web --env prod --wait', 'mockcloud volume attach vol-… vm-…'],
  ).action(
    action(async (volRef: string, vmRef: string, flags: { env?: string; wait?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const scope = await envScope(ctx.client, flags.env);
      const vol = await resolve(ctx.client, 'volume', volRef, scope);
      // A named VM is looked for in the volume's environment: attaching across environments is refused anyway.
      const vmId = await resolveId(ctx.client, 'vm', vmRef, { environmentId: scope.environmentId ?? vol.environment_id });
      await finishAsync(ctx, 'volume', await ctx.client.attachVolume(vol.id, vmId), { wait: Boolean(flags.wait), verb: 'attaching' });
    }),
  );

  examples(
    volume
      .command('detach')
      .description('detach a volume from its VM')
      .argument('<volume>', 'volume ID or name')
      .option('--env <env>', 'environment of a named volume (ID or name)')
      .addOption(waitOption()),
    ['mockcloud volume detach data --env prod --wait'],
  ).action(
    action(async (ref: string, flags: { env?: string; wait?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const id = await resolveId(ctx.client, 'volume', ref, await envScope(ctx.client, flags.env));
      await finishAsync(ctx, 'volume', await ctx.client.detachVolume(id), { wait: Boolean(flags.wait), verb: 'detaching' });
    }),
  );

  addDelete(volume, 'volume');
}
