import { Command, Option } from 'commander';
import type { VmPatch } from '../../core/api.js';
import { contextOf } from '../context.js';
import { envScope, resolve, resolveId } from '../resolve.js';
import { addDelete, addGet, addList, finishAsync, waitOption } from './crud.js';
import { action, collect, examples, parseTag, parseUntag, requireSomething, tagsPatch } from './shared.js';

const SIZES = ['small', 'medium', 'large', 'xlarge'];

export function registerVmCommands(program: Command): void {
  const vm = program.command('vm').description('virtual machines (asynchronous: create, delete, start, stop and reboot run as operations)');
  examples(vm, ['mockcloud vm create web --env prod --size small --image ubuntu-24.04 --wait', 'mockcloud vm list --env prod', 'mockcloud vm stop web --env prod --wait']);

  examples(
    vm
      .command('create')
      .description('create a VM (answers at once with the VM `creating`; --wait follows it to `running`)')
      .argument('<name>', 'name, unique in the environment')
      .requiredOption('--env <env>', 'environment (ID or name)')
      .addOption(new Option('--size <size>', 'small (1 vCPU/1 GiB), medium (2/4), large (4/16), xlarge (8/32)').choices(SIZES).default('small'))
      .option('--image <image>', 'catalogue image (GET /api/v1/images)', 'ubuntu-24.04')
      .option('--sg <sg>', 'security group of the same environment, ID or name (repeatable)', collect)
      .option('--tag <key=value>', 'a tag (repeatable); mockcloud:outcome=succeed|fail and mockcloud:duration=<s> steer the simulation', parseTag)
      .addOption(waitOption()),
    [
      'mockcloud vm create web --env prod --wait',
      'mockcloud vm create db --env prod --size large --image debian-12 --sg db --tag role=db',
      'mockcloud vm create flaky --env ci --tag mockcloud:outcome=fail --wait   # exits 1',
      'VM=$(mockcloud vm create w1 --env ci --wait --quiet)',
    ],
  ).action(
    action(async (name: string, flags: { env: string; size: string; image: string; sg?: string[]; tag?: Record<string, string>; wait?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const environmentId = await resolveId(ctx.client, 'env', flags.env);
      const sgs = flags.sg ? await Promise.all(flags.sg.map((s) => resolveId(ctx.client, 'sg', s, { environmentId }))) : undefined;
      const res = await ctx.client.create('vm', {
        name,
        environment_id: environmentId,
        size: flags.size as 'small',
        image: flags.image,
        security_group_ids: sgs,
        tags: flags.tag,
      });
      await finishAsync(ctx, 'vm', res, { wait: Boolean(flags.wait), verb: 'creating' });
    }),
  );

  addList(vm, 'vm');
  addGet(vm, 'vm');

  examples(
    vm
      .command('update')
      .description('rename, resize (needs the VM stopped), change security groups or tags')
      .argument('<vm>', 'VM ID or name')
      .option('--env <env>', 'environment of a named VM (ID or name)')
      .option('--name <name>', 'new name')
      .addOption(new Option('--size <size>', 'new size (the VM must be stopped)').choices(SIZES))
      .option('--sg <sg>', 'security group, ID or name (repeatable; replaces the list)', collect)
      .option('--tag <key=value>', 'set a tag (repeatable)', parseTag)
      .option('--untag <key>', 'remove a tag (repeatable)', parseUntag)
      .addOption(waitOption()),
    ['mockcloud vm update web --env prod --size large --wait', 'mockcloud vm update vm-… --tag owner=me'],
  ).action(
    action(async (ref: string, flags: { env?: string; name?: string; size?: string; sg?: string[]; tag?: Record<string, string>; untag?: string[]; wait?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const current = await resolve(ctx.client, 'vm', ref, await envScope(ctx.client, flags.env));
      const patch: VmPatch = {
        name: flags.name,
        size: flags.size as VmPatch['size'],
        security_group_ids: flags.sg ? await Promise.all(flags.sg.map((s) => resolveId(ctx.client, 'sg', s, { environmentId: current.environment_id }))) : undefined,
        tags: tagsPatch(flags.tag, flags.untag),
      };
      requireSomething(patch, '--name, --size, --sg, --tag, --untag');
      const res = await ctx.client.update('vm', current.id, patch);
      // 200: nothing to wait for; 202: the change started an operation (a resize).
      await finishAsync(ctx, 'vm', res, { wait: Boolean(flags.wait) && res.status === 202, verb: 'updating' });
    }),
  );

  for (const [verb, state, desc] of [
    ['start', 'starting', 'start a stopped VM'],
    ['stop', 'stopping', 'stop a running VM'],
    ['reboot', 'rebooting', 'reboot a running VM'],
  ] as const) {
    examples(
      vm.command(verb).description(desc).argument('<vm>', 'VM ID or name').option('--env <env>', 'environment of a named VM (ID or name)').addOption(waitOption()),
      [`mockcloud vm ${verb} web --env prod --wait`, `mockcloud vm ${verb} vm-…`],
    ).action(
      action(async (ref: string, flags: { env?: string; wait?: boolean }, self: Command) => {
        const ctx = contextOf(self);
        const id = await resolveId(ctx.client, 'vm', ref, await envScope(ctx.client, flags.env));
        await finishAsync(ctx, 'vm', await ctx.client.vmAction(id, verb), { wait: Boolean(flags.wait), verb: state });
      }),
    );
  }

  addDelete(vm, 'vm');
}
