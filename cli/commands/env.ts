import { Command } from 'commander';
import type { EnvironmentPatch } from '../../core/api.js';
import { contextOf } from '../context.js';
import { emitOne } from '../output.js';
import { resolveId } from '../resolve.js';
import { fields } from '../views.js';
import { addDelete, addGet, addList } from './crud.js';
import { action, examples, parseTag, parseUntag, requireSomething, tagsPatch } from './shared.js';

export function registerEnvCommands(program: Command): void {
  const env = program.command('env').alias('environment').description('environments: isolated networks that hold security groups, VMs and volumes');
  examples(env, ['mockcloud env create prod --cidr 10.1.0.0/16', 'mockcloud env list', 'mockcloud env delete prod']);

  examples(
    env
      .command('create')
      .description('create an environment')
      .argument('<name>', 'unique name')
      .option('--cidr <cidr>', 'IPv4 address space, prefix /16–/28 (default 10.0.0.0/16; immutable)')
      .option('--tag <key=value>', 'a tag (repeatable)', parseTag),
    ['mockcloud env create prod', 'mockcloud env create staging --cidr 10.20.0.0/24 --tag team=infra', 'ENV=$(mockcloud env create ci --quiet)'],
  ).action(
    action(async (name: string, flags: { cidr?: string; tag?: Record<string, string> }, self: Command) => {
      const ctx = contextOf(self);
      const { resource } = await ctx.client.create('env', { name, cidr: flags.cidr, tags: flags.tag });
      await emitOne(ctx, resource, fields(ctx.client).env);
    }),
  );

  addList(env, 'env');
  addGet(env, 'env');

  examples(
    env
      .command('update')
      .description('rename an environment or change its tags (the CIDR is immutable)')
      .argument('<env>', 'environment ID or name')
      .option('--name <name>', 'new name')
      .option('--tag <key=value>', 'set a tag (repeatable)', parseTag)
      .option('--untag <key>', 'remove a tag (repeatable)', parseUntag),
    ['mockcloud env update prod --name production', 'mockcloud env update prod --tag owner=me --untag temp'],
  ).action(
    action(async (ref: string, flags: { name?: string; tag?: Record<string, string>; untag?: string[] }, self: Command) => {
      const ctx = contextOf(self);
      const patch: EnvironmentPatch = { name: flags.name, tags: tagsPatch(flags.tag, flags.untag) };
      requireSomething(patch, '--name, --tag, --untag');
      const id = await resolveId(ctx.client, 'env', ref);
      const { resource } = await ctx.client.update('env', id, patch);
      await emitOne(ctx, resource, fields(ctx.client).env);
    }),
  );

  addDelete(env, 'env');
}
