import { Command } from 'commander';
import type { Rule, SecurityGroupPatch } from '../../core/api.js';
import { contextOf } from '../context.js';
import { emitOne } from '../output.js';
import { envScope, resolveId } from '../resolve.js';
import { fields } from '../views.js';
import { addDelete, addGet, addList } from './crud.js';
import { action, examples, parseRule, parseTag, parseUntag, requireSomething, RULE_HELP, tagsPatch } from './shared.js';

const RULE_EXAMPLES = `
Rules (--rule DIRECTION:PROTOCOL:PORTS:CIDR):
  ingress:tcp:22:0.0.0.0/0          SSH from anywhere
  ingress:tcp:8000-8080:10.0.0.0/8  a port range
  egress:all::0.0.0.0/0             every protocol, every port
  ingress:icmp::10.0.0.0/8          ping (no ports for icmp/all)
  ingress:udp::10.0.0.0/8           empty PORTS on tcp/udp means 0-65535
`;

export function registerSgCommands(program: Command): void {
  const sg = program.command('sg').alias('security-group').description('security groups: ordered firewall rules for the VMs of one environment');
  examples(sg, ['mockcloud sg create web --env prod --rule ingress:tcp:443:0.0.0.0/0', 'mockcloud sg list --env prod']);

  examples(
    sg
      .command('create')
      .description('create a security group')
      .argument('<name>', 'name, unique in the environment')
      .requiredOption('--env <env>', 'environment (ID or name)')
      .option('--description <text>', 'free text')
      .option('--rule <rule>', RULE_HELP, parseRule)
      .option('--tag <key=value>', 'a tag (repeatable)', parseTag)
      .addHelpText('after', RULE_EXAMPLES),
    ['mockcloud sg create web --env prod --rule ingress:tcp:22:0.0.0.0/0 --rule ingress:tcp:443:0.0.0.0/0', 'mockcloud sg create db --env prod --rule ingress:tcp:5432:10.1.0.0/16 --description "postgres"'],
  ).action(
    action(async (name: string, flags: { env: string; description?: string; rule?: Rule[]; tag?: Record<string, string> }, self: Command) => {
      const ctx = contextOf(self);
      const environmentId = await resolveId(ctx.client, 'env', flags.env);
      const { resource } = await ctx.client.create('sg', { name, environment_id: environmentId, description: flags.description, rules: flags.rule, tags: flags.tag });
      await emitOne(ctx, resource, fields(ctx.client).sg);
    }),
  );

  addList(sg, 'sg');
  addGet(sg, 'sg');

  examples(
    sg
      .command('update')
      .description('rename a security group, replace its rules, or change its description or tags')
      .argument('<sg>', 'security group ID or name')
      .option('--env <env>', 'environment of a named group (ID or name)')
      .option('--name <name>', 'new name')
      .option('--description <text>', 'new description')
      .option('--rule <rule>', `${RULE_HELP}; replaces the whole list`, parseRule)
      .option('--no-rules', 'remove every rule')
      .option('--tag <key=value>', 'set a tag (repeatable)', parseTag)
      .option('--untag <key>', 'remove a tag (repeatable)', parseUntag)
      .addHelpText('after', RULE_EXAMPLES),
    ['mockcloud sg update web --env prod --rule ingress:tcp:443:0.0.0.0/0', 'mockcloud sg update sg-… --no-rules'],
  ).action(
    action(async (ref: string, flags: { env?: string; name?: string; description?: string; rule?: Rule[]; rules?: boolean; tag?: Record<string, string>; untag?: string[] }, self: Command) => {
      const ctx = contextOf(self);
      const patch: SecurityGroupPatch = {
        name: flags.name,
        description: flags.description,
        rules: flags.rules === false ? [] : flags.rule,
        tags: tagsPatch(flags.tag, flags.untag),
      };
      requireSomething(patch, '--name, --description, --rule, --no-rules, --tag, --untag');
      const id = await resolveId(ctx.client, 'sg', ref, await envScope(ctx.client, flags.env));
      const { resource } = await ctx.client.update('sg', id, patch);
      await emitOne(ctx, resource, fields(ctx.client).sg);
    }),
  );

  addDelete(sg, 'sg');
}
