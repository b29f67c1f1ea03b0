import type { Command } from 'commander';
import { addGlobalOptions } from '../context.js';
import { registerCompletionCommand } from './completion.js';
import { registerEnvCommands } from './env.js';
import { registerOpCommands } from './op.js';
import { registerSgCommands } from './sg.js';
import { registerSimCommands } from './sim.js';
import { registerTailCommand } from './tail.js';
import { registerVmCommands } from './vm.js';
import { registerVolumeCommands } from './volume.js';

/** Everything the CLI does against a running mockcloud: called once from main.ts. */
export function registerResourceCommands(program: Command): void {
  addGlobalOptions(program);
  program.configureHelp({ showGlobalOptions: true });
  registerEnvCommands(program);
  registerSgCommands(program);
  registerVmCommands(program);
  registerVolumeCommands(program);
  registerOpCommands(program);
  registerTailCommand(program);
  registerSimCommands(program);
  registerCompletionCommand(program);
}
