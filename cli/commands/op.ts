import { Command, Option } from 'commander';
import { contextOf } from '../context.js';
import { emitList, emitOne } from '../output.js';
import { envScope } from '../resolve.js';
import { opColumns, opFields } from '../views.js';
import { waitForOperation } from '../wait.js';
import { action, examples, parseIntFlag } from './shared.js';

const KINDS = ['vm.create', 'vm.delete', 'vm.start', 'vm.stop', 'vm.reboot', 'volume.create', 'volume.delete', 'volume.attach', 'volume.detach'];

export function registerOpCommands(program: Command): void {
  const op = program.command('op').alias('operation').description('operations: the long-running work behind VM and volume changes');
  examples(op, ['mockcloud op list --status running', 'mockcloud op get op-…', 'mockcloud op wait op-…']);

  examples(
    op
      .command('list')
      .alias('ls')
      .description('list operations (newest last)')
      .option('--resource <id>', 'only for this resource ID')
      .addOption(new Option('--kind <kind>', 'only this kind').choices(KINDS))
      .addOption(new Option('--status <status>', 'only this status').choices(['pending', 'running', 'succeeded', 'failed']))
      .option('--env <env>', 'only in this environment (ID or name)')
      .option('--limit <n>', 'at most this many', parseIntFlag('--limit', 1)),
    ['mockcloud op list', 'mockcloud op list --resource vm-… --output json', 'mockcloud op list --status failed --kind vm.create'],
  ).action(
    action(async (flags: { resource?: string; kind?: string; status?: string; env?: string; limit?: number }, self: Command) => {
      const ctx = contextOf(self);
      const scope = await envScope(ctx.client, flags.env);
      const items = await ctx.client.listOperations({ resource_id: flags.resource, kind: flags.kind, status: flags.status, environment_id: scope.environmentId }, flags.limit);
      await emitList(ctx, items, opColumns(ctx.client), 'operations');
    }),
  );

  examples(op.command('get').alias('show').description('show one operation').argument('<op>', 'operation ID'), ['mockcloud op get op-…', 'mockcloud op get op-… --output json']).action(
    action(async (id: string, _flags: unknown, self: Command) => {
      const ctx = contextOf(self);
      await emitOne(ctx, await ctx.client.getOperation(id), opFields(ctx.client));
    }),
  );

  examples(
    op.command('wait').description('follow an operation to its end (exit 0 succeeded, 1 failed)').argument('<op>', 'operation ID'),
    ['mockcloud op wait op-…', 'mockcloud op wait op-… --output json'],
  ).action(
    action(async (id: string, _flags: unknown, self: Command) => {
      const ctx = contextOf(self);
      const current = await ctx.client.getOperation(id);
      const done = await waitForOperation(ctx, { operationId: current.id, resourceId: current.resource_id });
      await emitOne(ctx, done, opFields(ctx.client));
    }),
  );
}
