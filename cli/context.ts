import { Command, Option } from 'commander';
import { ApiClient } from './api-client.js';
import { currentContext } from './config-file.js';
import { CliError } from './errors.js';

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
  format?: string;
  header?: boolean;
  query?: string;
}

export interface Ctx {
  client: ApiClient;
  endpoint: string;
  output: 'table' | 'json';
  quiet: boolean;
  debug: boolean;
  /** Table columns to show, in order (`--format`); all when undefined. */
  format?: string[];
  /** false with `--no-header`. */
  header: boolean;
  /** JMESPath applied to JSON output (`--query`); implies JSON. */
  query?: string;
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
    .addOption(new Option('--debug', 'show stack traces of unexpected errors').env('MOCKCLOUD_DEBUG'))
    .addOption(new Option('--format <columns>', 'table columns to show, comma-separated, e.g. ID,NAME,STATUS').env('MOCKCLOUD_FORMAT'))
    .addOption(new Option('--no-header', 'tables without their header line').env('MOCKCLOUD_NO_HEADER'))
    .addOption(new Option('--query <jmespath>', 'a JMESPath expression applied to the JSON output (implies --output json; a string result prints bare), e.g. "[].id"'));
}

export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.toLowerCase();
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false';
}

/**
 * The endpoint must be an http(s) URL: `localhost:8000` parses as a URL whose scheme is
 * "localhost:", which would otherwise surface later as an unexplained failure.
 */
export function checkEndpoint(endpoint: string): string {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname) return endpoint;
  const guess = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? undefined : `http://${endpoint}`;
  throw new CliError(
    `--endpoint (MOCKCLOUD_ENDPOINT) must be an http:// or https:// URL, got "${endpoint}"`,
    guess ? `did you mean --endpoint ${guess}?` : 'e.g. --endpoint http://localhost:8000',
    2,
  );
}

export function contextOf(cmd: Command): Ctx {
  const flags = cmd.optsWithGlobals() as GlobalFlags;
  const ci = isCi();
  checkEndpoint(flags.endpoint);
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
    format: flags.format ? flags.format.split(',').map((c) => c.trim()).filter(Boolean) : undefined,
    header: flags.header !== false,
    query: flags.query,
    // A terminal that reports no width (some pseudo-terminals) cannot be laid out: treat it as a pipe.
    stdoutTty: Boolean(process.stdout.isTTY) && !ci && (process.stdout.columns ?? 0) > 0,
    stderrTty: Boolean(process.stderr.isTTY) && !ci && (process.stderr.columns ?? 0) > 0,
  };
}
