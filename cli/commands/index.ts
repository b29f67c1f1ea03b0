import type { Command } from 'commander';
import { addGlobalOptions } from '../context.js';
import { registerApiCommand } from './api.js';
import { registerCompletionCommand } from './completion.js';
import { registerEmulatorCommands } from './emulator.js';
import { registerEnvCommands } from './env.js';
import { registerIdentityCommands } from './identity.js';
import { registerOpCommands } from './op.js';
import { registerSgCommands } from './sg.js';
import { registerSimCommands } from './sim.js';
import { registerStatusCommand } from './status.js';
import { registerTailCommand } from './tail.js';
import { registerVmCommands } from './vm.js';
import { registerVolumeCommands } from './volume.js';

/** Everything the CLI does against a running mockcloud: called once from main.ts. */
export function registerResourceCommands(program: Command): void {
  addGlobalOptions(program);
  program.configureHelp({ showGlobalOptions: true });
  program.addHelpText(
    'after',
    `
Examples:
  mockcloud up --memory --time-scale 0.05           # start mockcloud (another terminal)
  mockcloud env create prod
  mockcloud sg create web --env prod --rule ingress:tcp:22:0.0.0.0/0
  mockcloud vm create web --env prod --sg web --wait
  mockcloud volume create data --env prod --size 20 --wait
  mockcloud volume attach data web --env prod --wait
  mockcloud tail --env prod                          # live progress of everything in prod
  mockcloud vm list --output json | jq -r '.[].id'
  mockcloud vm list --query '[].id'                 # the same without jq (JMESPath)
  mockcloud status                                   # which server, mode, readiness

Exit codes: 0 success, 1 API error or failed operation, 2 usage error, 130 interrupted.
`,
  );
  registerEnvCommands(program);
  registerSgCommands(program);
  registerVmCommands(program);
  registerVolumeCommands(program);
  registerOpCommands(program);
  registerTailCommand(program);
  registerSimCommands(program);
  registerEmulatorCommands(program);
  registerCompletionCommand(program);
  registerApiCommand(program);
  registerStatusCommand(program);
  registerIdentityCommands(program);
}
