import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError } from './errors.js';

// Saved connections, kubectl-style: named contexts (endpoint, token, project) and the current one,
// in $XDG_CONFIG_HOME/mockcloud/config.json (default ~/.config/mockcloud/config.json), mode 0600
// because it holds tokens.

export interface SavedContext {
  endpoint: string;
  token?: string;
  project?: string;
}

export interface ConfigFile {
  current?: string;
  contexts: Record<string, SavedContext>;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'mockcloud', 'config.json');
}

export function readConfigFile(file = configPath()): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { contexts: {} };
  }
  try {
    const parsed = JSON.parse(text) as Partial<ConfigFile>;
    return { current: parsed.current, contexts: parsed.contexts && typeof parsed.contexts === 'object' ? parsed.contexts : {} };
  } catch {
    throw new CliError(`${file} is not valid JSON`, 'fix or delete it, then run `mockcloud login` again', 2);
  }
}

export function writeConfigFile(config: ConfigFile, file = configPath()): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o600);
}

/** The named context, or the current one; none when nothing is saved. */
export function currentContext(name?: string): SavedContext | undefined {
  const config = readConfigFile();
  const key = name ?? config.current;
  if (key === undefined) return undefined;
  const ctx = config.contexts[key];
  if (!ctx && name !== undefined) throw new CliError(`no context named "${name}"`, 'see `mockcloud context list`', 2);
  return ctx;
}
