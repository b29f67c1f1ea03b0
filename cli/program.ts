import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadConfig, type ConfigFlags } from '../core/config.js';
import { registerResourceCommands } from './commands/index.js';
import { CliError, handleCliError } from './errors.js';
import { closeConnections } from './http.js';

// Composition root of the CLI: parses flags, reads configuration, and starts what was asked.
// Heavy modules (the server, Ink) are imported inside the commands that need them so that
// `mockcloud vm list --output json` does not pay for them.

const program = new Command('mockcloud')
  .description('A mock cloud provider: environments, security groups, VMs and volumes that provision like a real cloud.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

function serverFlags(cmd: Command): Command {
  return cmd
    .option('--port <port>', 'API port (MOCKCLOUD_PORT)')
    .option('--host <host>', 'bind address (MOCKCLOUD_HOST)')
    .option('--data-dir <dir>', 'embedded database directory (MOCKCLOUD_DATA_DIR)')
    .option('--memory', 'keep nothing on disk')
    .option('--time-scale <n>', 'multiplies every simulated duration (MOCKCLOUD_TIME_SCALE)')
    .option('--failure-rate <r>', 'failure rate of create operations, 0–1 (MOCKCLOUD_FAILURE_RATE)')
    .option('--seed <n>', 'makes the simulation reproducible (MOCKCLOUD_SEED)')
    .option('--init <file>', 'state document or seed YAML applied at start-up (MOCKCLOUD_INIT)')
    .addOption(new Option('--log-level <level>', 'log level (MOCKCLOUD_LOG_LEVEL)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(logFormatOption());
}

const logFormatOption = () =>
  new Option('--log-format <format>', 'auto: short lines on a terminal, JSON lines otherwise (MOCKCLOUD_LOG_FORMAT)').choices(['auto', 'json', 'pretty']);

serverFlags(program.command('up'))
  .description('start mockcloud embedded: API and worker in one process, SQLite storage, no external services')
  .addHelpText('after', '\nExamples:\n  mockcloud up\n  mockcloud up --memory --time-scale 0.05 --seed 7\n')
  .action(async (flags: ConfigFlags) => {
    const config = loadConfig(process.env, flags);
    const { runApi } = await import('../server/main.js');
    await runApi(config, 'up');
  });

serverFlags(program.command('server'))
  .description('start the API only (distributed mode: DATABASE_URL, AMQP_URL, REDIS_URL)')
  .action(async (flags: ConfigFlags) => {
    const config = loadConfig(process.env, flags);
    // Without PostgreSQL a `server` would quietly keep its own SQLite file that no other server or
    // worker can share: that is `mockcloud up`, so say so instead of pretending to be distributed.
    if (!config.databaseUrl) {
      throw new CliError('`mockcloud server` is the distributed API process and needs DATABASE_URL (PostgreSQL)', 'for one process with SQLite and no other services, run `mockcloud up`', 2);
    }
    const { runApi } = await import('../server/main.js');
    await runApi(config, 'server');
  });

program
  .command('worker')
  .description('start a worker: consumes operations from RabbitMQ (DATABASE_URL, AMQP_URL, REDIS_URL); run as many as you like')
  .option('--metrics-port <port>', 'port of the worker\'s /metrics and /health, default none (MOCKCLOUD_METRICS_PORT)')
  .addOption(new Option('--log-level <level>', 'log level (MOCKCLOUD_LOG_LEVEL)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .addOption(logFormatOption())
  .action(async (flags: ConfigFlags) => {
    const config = loadConfig(process.env, flags);
    const { runWorker } = await import('../worker/main.js');
    await runWorker(config);
  });

program
  .command('migrate')
  .description('apply database migrations (idempotent; safe to run before every deploy)')
  .option('--data-dir <dir>', 'embedded database directory (MOCKCLOUD_DATA_DIR)')
  .action(async (flags: ConfigFlags) => {
    const config = loadConfig(process.env, flags);
    const { migrateStore } = await import('./migrate.js');
    process.stdout.write(`${await migrateStore(config)}\n`);
  });

registerResourceCommands(program);

// `mockcloud vm list | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const cliExit = handleCliError(err, program.opts().debug === true);
    if (cliExit !== undefined) {
      process.exitCode = cliExit;
      return;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`mockcloud: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    if ((err as Error).name === 'StartupError' || (err as Error).constructor?.name === 'StartupError') {
      process.stderr.write(`mockcloud: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    // up/server/worker/migrate failing to start: still one line (the stack with --debug).
    const debug = program.opts().debug === true;
    process.stderr.write(`mockcloud: could not start: ${(err as Error).message ?? String(err)}${debug ? `\n${(err as Error).stack ?? ''}` : ' (--debug shows the stack)'}\n`);
    process.exitCode = 1;
  } finally {
    closeConnections();
  }
}

// Not awaited at the top level: the server roles run this module from a CommonJS bundle (cli/bundle.ts),
// which cannot wait at its top level; main() sets the exit code itself.
export const finished = main();
