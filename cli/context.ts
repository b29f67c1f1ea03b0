import { Command, Option } from 'commander';
import { ApiClient } from './api-client.js';
import { currentContext } from './config-file.js';

// The command layer's view of the global flags. Flags win over environment variables (commander's
// Option.env); nothing below the command layer reads process.env.

export const DEFAULT_ENDPOINT = 'http://localhost:8000';

export interface GlobalFlags {
  endpoint: string;
  token?: string;
  project?: string;
  context?: string;
  output: 'table' | 'json';
  quiet?: boolean;
  debug?: boolean;
}

export interface Ctx {
  client: ApiClient;
  endpoint: string;
  output: 'table' | 'json';
  quiet: boolean;
  debug: boolean;
  /** stdout is a terminal and we are not in CI: tables and colours via Ink. */
  stdoutTty: boolean;
  /** stderr is a terminal and we are not in CI: live progress bars via Ink. */
  stderrTty: boolean;
}

export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(new Option('--endpoint <url>', 'API endpoint').env('MOCKCLOUD_ENDPOINT').default(DEFAULT_ENDPOINT))
    .addOption(new Option('--token <token>', 'bearer token').env('MOCKCLOUD_TOKEN'))
    .addOption(new Option('--project <id>', 'project the admin token acts in').env('MOCKCLOUD_PROJECT'))
    .addOption(new Option('--context <name>', 'saved context to use (see `mockcloud context list`)').env('MOCKCLOUD_CONTEXT'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).env('MOCKCLOUD_OUTPUT').default('table'))
    .addOption(new Option('-q, --quiet', 'print only IDs').env('MOCKCLOUD_QUIET'))
    .addOption(new Option('--debug', 'show stack traces of unexpected errors').env('MOCKCLOUD_DEBUG'));
}

export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.toLowerCase();
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false';
}

export function contextOf(cmd: Command): Ctx {
  const flags = cmd.optsWithGlobals() as GlobalFlags;
  const ci = isCi();
  // Flags and environment variables win over the saved context (`mockcloud login`); the context
  // wins over built-in defaults.
  const saved = currentContext(flags.context);
  const endpoint = cmd.getOptionValueSourceWithGlobals('endpoint') === 'default' && saved?.endpoint ? saved.endpoint : flags.endpoint;
  const token = flags.token ?? saved?.token;
  const project = flags.project ?? saved?.project;
  return {
    client: new ApiClient({ endpoint, token, project, userAgent: 'mockcloud-cli/0.1.0' }),
    endpoint,
    output: flags.output,
    quiet: Boolean(flags.quiet),
    debug: Boolean(flags.debug),
    // A terminal that reports no width (some pseudo-terminals) cannot be laid out: treat it as a pipe.
    stdoutTty: Boolean(process.stdout.isTTY) && !ci && (process.stdout.columns ?? 0) > 0,
    stderrTty: Boolean(process.stderr.isTTY) && !ci && (process.stderr.columns ?? 0) > 0,
  };
}
