import { Command, InvalidArgumentError, Option } from 'commander';
import type { components } from '../../core/api-types.js';
import { ApiClient } from '../api-client.js';
import { configPath, readConfigFile, writeConfigFile, type SavedContext } from '../config-file.js';
import { contextOf, type Ctx } from '../context.js';
import { CliError } from '../errors.js';
import type { Column } from '../format.js';
import { emitList, emitOne, say, writeJson, type Field } from '../output.js';
import { action, examples, parseIntFlag } from './shared.js';

// Identity commands (SPEC §10): login and saved contexts, whoami, projects, users, tokens.

type S = components['schemas'];

const SCOPE = /^([a-z][a-z0-9-]{0,39}|\*):(read|write)$/;
const parseScope = (value: string, previous: string[] = []) => {
  if (!SCOPE.test(value)) throw new InvalidArgumentError(`a scope is <collection>:read|write or *:read|*:write, got "${value}"`);
  return [...previous, value];
};

const get = async <T>(ctx: Ctx, path: string, query?: Record<string, string | undefined>) => (await ctx.client.call('GET', path, { query })).body as T;
const send = async <T>(ctx: Ctx, method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) => (await ctx.client.call(method, path, { body })).body as T;

const WHOAMI_FIELDS: Field<S['Whoami']>[] = [
  ['auth', (w) => w.auth],
  ['caller', (w) => w.kind],
  ['project', (w) => w.project_id],
  ['user', (w) => w.user_id ?? ''],
  ['token', (w) => w.token_id ?? ''],
  ['role', (w) => w.role ?? ''],
  ['scopes', (w) => w.scopes.join(' ')],
  ['expires', (w) => w.expires_at ?? ''],
];
const PROJECT_COLUMNS: Column<S['Project']>[] = [
  { header: 'ID', value: (p) => p.id },
  { header: 'NAME', value: (p) => p.name },
  { header: 'CREATED', value: (p) => p.created_at },
];
const MEMBER_COLUMNS: Column<S['Member']>[] = [
  { header: 'USER', value: (m) => m.user_id },
  { header: 'NAME', value: (m) => m.user_name },
  { header: 'ROLE', value: (m) => m.role },
];
const USER_COLUMNS: Column<S['User']>[] = [
  { header: 'ID', value: (u) => u.id },
  { header: 'NAME', value: (u) => u.name },
  { header: 'EMAIL', value: (u) => u.email ?? '' },
];
const TOKEN_COLUMNS: Column<S['Token']>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'NAME', value: (t) => t.name },
  { header: 'PROJECT', value: (t) => t.project_id },
  { header: 'SCOPES', value: (t) => t.scopes.join(' ') },
  { header: 'EXPIRES', value: (t) => t.expires_at ?? 'never' },
  { header: 'LAST USED', value: (t) => t.last_used_at ?? 'never' },
  { header: 'STATUS', value: (t) => (t.revoked_at ? 'revoked' : t.expires_at && Date.parse(t.expires_at) < Date.now() ? 'expired' : 'active') },
];

/** Project by ID or name (names resolve through the list the caller may see). */
async function projectId(ctx: Ctx, ref: string): Promise<string> {
  if (ref.startsWith('prj-') || ref === 'default') return ref;
  const page = await get<S['ProjectList']>(ctx, '/api/v1/projects', { name: ref });
  if (!page.items[0]) throw new CliError(`no project named "${ref}"`, 'see `mockcloud project list`');
  return page.items[0].id;
}

async function userId(ctx: Ctx, ref: string): Promise<string> {
  if (ref.startsWith('usr-')) return ref;
  const page = await get<S['UserList']>(ctx, '/api/v1/users', { name: ref });
  if (!page.items[0]) throw new CliError(`no user named "${ref}"`, 'see `mockcloud user list`');
  return page.items[0].id;
}

export function registerIdentityCommands(program: Command): void {
  examples(
    program
      .command('login')
      .description(`check a token against the endpoint and save both as a context (in ${configPath()})`)
      .option('--name <context>', 'name of the context to save (default: "default")'),
    ['mockcloud login --endpoint http://mockcloud.ci:8000 --token mc_…', 'MOCKCLOUD_TOKEN=mc_… mockcloud login --name ci', 'mockcloud login --token "$ADMIN" --project prj-…'],
  ).action(
    action(async (flags: { name?: string }, self: Command) => {
      const ctx = contextOf(self);
      const g = self.optsWithGlobals() as { token?: string; project?: string };
      if (!g.token) throw new CliError('login needs a token', 'pass --token mc_… or set MOCKCLOUD_TOKEN (with auth off, any value works)', 2);
      const client = new ApiClient({ endpoint: ctx.endpoint, token: g.token, project: g.project, userAgent: 'mockcloud-cli/0.1.0' });
      const me = (await client.call('GET', '/api/v1/whoami')).body as S['Whoami'];
      const name = flags.name ?? 'default';
      const config = readConfigFile();
      const saved: SavedContext = { endpoint: ctx.endpoint, token: g.token, ...(g.project ? { project: g.project } : {}) };
      config.contexts[name] = saved;
      config.current = name;
      writeConfigFile(config);
      if (ctx.output === 'json') return writeJson({ context: name, ...me });
      say(ctx, `logged in to ${ctx.endpoint} as ${me.kind}${me.role ? ` (${me.role})` : ''} in project ${me.project_id}; context "${name}" is current`);
    }),
  );

  const context = program.command('context').alias('ctx').description('saved endpoints and tokens, like kubectl contexts');
  examples(context, ['mockcloud context list', 'mockcloud context use ci', 'mockcloud context add local --endpoint http://localhost:8000']);
  context
    .command('list')
    .alias('ls')
    .description('list saved contexts')
    .action(
      action(async (_flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        const config = readConfigFile();
        const rows = Object.entries(config.contexts).map(([name, c]) => ({ name, current: name === config.current, endpoint: c.endpoint, project: c.project ?? '', token: c.token ? `${c.token.slice(0, 6)}…` : '' }));
        if (ctx.output === 'json') return writeJson(rows);
        await emitList(ctx, rows.map((r) => ({ ...r, id: r.name })), [
          { header: 'CURRENT', value: (r) => (r.current ? '*' : '') },
          { header: 'NAME', value: (r) => r.name },
          { header: 'ENDPOINT', value: (r) => r.endpoint },
          { header: 'PROJECT', value: (r) => r.project },
          { header: 'TOKEN', value: (r) => r.token },
        ], 'contexts');
      }),
    );
  context
    .command('use')
    .description('make a saved context the current one')
    .argument('<name>', 'context name')
    .action(
      action(async (name: string, _flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        const config = readConfigFile();
        if (!config.contexts[name]) throw new CliError(`no context named "${name}"`, 'see `mockcloud context list`', 2);
        config.current = name;
        writeConfigFile(config);
        say(ctx, `context "${name}" is current`);
      }),
    );
  context
    .command('add')
    .description('save a context without checking it (--endpoint, --token, --project)')
    .argument('<name>', 'context name')
    .option('--use', 'also make it current')
    .action(
      action(async (name: string, flags: { use?: boolean }, self: Command) => {
        const ctx = contextOf(self);
        const g = self.optsWithGlobals() as { endpoint: string; token?: string; project?: string };
        const config = readConfigFile();
        config.contexts[name] = { endpoint: g.endpoint, ...(g.token ? { token: g.token } : {}), ...(g.project ? { project: g.project } : {}) };
        if (flags.use || config.current === undefined) config.current = name;
        writeConfigFile(config);
        say(ctx, `saved context "${name}"${config.current === name ? ' (current)' : ''}`);
      }),
    );

  examples(program.command('whoami').description('who the token is: project, role and scopes'), ['mockcloud whoami', 'mockcloud whoami --output json']).action(
    action(async (_flags: unknown, self: Command) => {
      const ctx = contextOf(self);
      await emitOne(ctx, await get<S['Whoami']>(ctx, '/api/v1/whoami'), WHOAMI_FIELDS);
    }),
  );

  const project = program.command('project').description('projects (tenants) and their members');
  examples(project, ['mockcloud project create team-a --owner alice', 'mockcloud project list', 'mockcloud project members team-a --add bob --role editor']);
  project
    .command('create')
    .description('create a project (admin)')
    .argument('<name>', 'unique name')
    .option('--owner <user>', 'make this user (ID or name) its owner')
    .action(
      action(async (name: string, flags: { owner?: string }, self: Command) => {
        const ctx = contextOf(self);
        const owner = flags.owner ? await userId(ctx, flags.owner) : undefined;
        await emitOne(ctx, await send<S['Project']>(ctx, 'POST', '/api/v1/projects', { name, owner_id: owner }), PROJECT_COLUMNS.map((c) => [c.header.toLowerCase(), c.value] as Field<S['Project']>));
      }),
    );
  project
    .command('list')
    .alias('ls')
    .description('list projects (the admin sees all, a token its own)')
    .action(
      action(async (_flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        await emitList(ctx, (await get<S['ProjectList']>(ctx, '/api/v1/projects', { limit: '500' })).items, PROJECT_COLUMNS, 'projects');
      }),
    );
  project
    .command('members')
    .description('list the members of a project, or add/change (--add USER --role R) or remove (--remove USER) one')
    .argument('<project>', 'project ID or name')
    .option('--add <user>', 'user ID or name to add or change')
    .addOption(new Option('--role <role>', 'role for --add').choices(['owner', 'editor', 'viewer']).default('viewer'))
    .option('--remove <user>', 'user ID or name to remove')
    .action(
      action(async (ref: string, flags: { add?: string; role: string; remove?: string }, self: Command) => {
        const ctx = contextOf(self);
        const id = await projectId(ctx, ref);
        if (flags.add) await send(ctx, 'PUT', `/api/v1/projects/${encodeURIComponent(id)}/members/${encodeURIComponent(await userId(ctx, flags.add))}`, { role: flags.role });
        if (flags.remove) await send(ctx, 'DELETE', `/api/v1/projects/${encodeURIComponent(id)}/members/${encodeURIComponent(await userId(ctx, flags.remove))}`);
        const members = await get<S['MemberList']>(ctx, `/api/v1/projects/${encodeURIComponent(id)}/members`);
        await emitList(ctx, members.items.map((m) => ({ ...m, id: m.user_id })), MEMBER_COLUMNS, 'members');
      }),
    );

  const user = program.command('user').description('users (admin)');
  examples(user, ['mockcloud user create alice --email alice@example.com', 'mockcloud user list']);
  user
    .command('create')
    .description('create a user (admin)')
    .argument('<name>', 'unique name (lower case)')
    .option('--email <email>', 'e-mail address')
    .action(
      action(async (name: string, flags: { email?: string }, self: Command) => {
        const ctx = contextOf(self);
        await emitOne(ctx, await send<S['User']>(ctx, 'POST', '/api/v1/users', { name, email: flags.email }), USER_COLUMNS.map((c) => [c.header.toLowerCase(), c.value] as Field<S['User']>));
      }),
    );
  user
    .command('list')
    .alias('ls')
    .description('list users (admin)')
    .action(
      action(async (_flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        await emitList(ctx, (await get<S['UserList']>(ctx, '/api/v1/users', { limit: '500' })).items, USER_COLUMNS, 'users');
      }),
    );

  const token = program.command('token').description('API tokens: scoped, shown once, revocable');
  examples(token, ['mockcloud token create ci --scope vms:write --scope environments:read --expires-in 86400', 'mockcloud token list', 'mockcloud token revoke tok-…']);
  token
    .command('create')
    .description('create a token; its secret is printed once')
    .argument('<name>', 'a name to recognise it by')
    .requiredOption('--scope <scope>', 'collection:read|write or *:read|*:write (repeatable)', parseScope)
    .option('--in-project <project>', 'project ID or name (default: the caller\'s)')
    .option('--user <user>', 'admin only: the member it acts for (ID or name)')
    .option('--expires-in <seconds>', 'lifetime in seconds', parseIntFlag('--expires-in', 1, 31_536_000))
    .action(
      action(async (name: string, flags: { scope: string[]; inProject?: string; user?: string; expiresIn?: number }, self: Command) => {
        const ctx = contextOf(self);
        const body = {
          name,
          scopes: flags.scope,
          project_id: flags.inProject ? await projectId(ctx, flags.inProject) : undefined,
          user_id: flags.user ? await userId(ctx, flags.user) : undefined,
          expires_in_s: flags.expiresIn,
        };
        const created = await send<S['TokenCreated']>(ctx, 'POST', '/api/v1/tokens', body);
        if (ctx.output === 'json') return writeJson(created);
        if (ctx.quiet) {
          process.stdout.write(`${created.secret}\n`);
          return;
        }
        process.stdout.write(`${created.secret}\n`);
        say(ctx, `token ${created.id} (${created.scopes.join(' ')}) in project ${created.project_id}: the secret above is shown only now`);
      }),
    );
  token
    .command('list')
    .alias('ls')
    .description('list tokens (never their secrets)')
    .option('--all', 'include revoked tokens')
    .action(
      action(async (flags: { all?: boolean }, self: Command) => {
        const ctx = contextOf(self);
        await emitList(ctx, (await get<S['TokenList']>(ctx, '/api/v1/tokens', { limit: '500', include_revoked: flags.all ? 'true' : undefined })).items, TOKEN_COLUMNS, 'tokens');
      }),
    );
  token
    .command('revoke')
    .description('revoke a token, at once on every replica')
    .argument('<token>', 'token ID')
    .action(
      action(async (id: string, _flags: unknown, self: Command) => {
        const ctx = contextOf(self);
        await send(ctx, 'DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
        say(ctx, `revoked ${id}`);
      }),
    );

  // Examples for every subcommand, in one place.
  const EXAMPLES: Record<string, string[]> = {
    'context list': ['mockcloud context list', 'mockcloud context list --output json'],
    'context use': ['mockcloud context use ci'],
    'context add': ['mockcloud context add local --endpoint http://localhost:8000 --token mc_…', 'mockcloud context add ci --endpoint http://mockcloud.ci:8000 --token mc_… --use'],
    'project create': ['mockcloud project create team-a', 'mockcloud project create team-a --owner alice --output json'],
    'project list': ['mockcloud project list', 'mockcloud project list --output json'],
    'project members': ['mockcloud project members team-a', 'mockcloud project members team-a --add bob --role editor', 'mockcloud project members team-a --remove bob'],
    'user create': ['mockcloud user create alice', 'mockcloud user create bob --email bob@example.com'],
    'user list': ['mockcloud user list', 'mockcloud user list --output json'],
    'token create': ['mockcloud token create ci --scope vms:write --scope environments:read', 'mockcloud token create ro --scope "*:read" --expires-in 3600 --quiet', 'mockcloud token create bot --scope vms:read --in-project team-a --user bob'],
    'token list': ['mockcloud token list', 'mockcloud token list --all --output json'],
    'token revoke': ['mockcloud token revoke tok-…'],
  };
  for (const group of [context, project, user, token]) {
    for (const sub of group.commands) {
      const lines = EXAMPLES[`${group.name()} ${sub.name()}`];
      if (lines) examples(sub, lines);
    }
  }
}

