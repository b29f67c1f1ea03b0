import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { cli, freePort, spawnCli, startUp, uniqName } from './helpers.js';

const LEAD_COMMANDS = new Set(['up', 'server', 'worker', 'migrate', 'help']);

/** Every command path of the CLI, read from the help output itself. */
async function helpOfEveryCommand(): Promise<Map<string, { code: number | null; stdout: string }>> {
  const helps = new Map<string, { code: number | null; stdout: string }>();
  const visit = async (path: string[]) => {
    const r = await cli('http://127.0.0.1:9', [...path, '--help']);
    helps.set(path.join(' '), r);
    const block = r.stdout.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
    const subs = [...block.matchAll(/^ {2}(\w[\w-]*)/gm)].map((m) => m[1]!).filter((n) => !LEAD_COMMANDS.has(n));
    await Promise.all(subs.map((s) => visit([...path, s])));
  };
  await visit([]);
  return helps;
}

describe('mockcloud CLI help and completion', function () {
  this.timeout(60_000);

  it('shows examples in the help of every command', async () => {
    const helps = await helpOfEveryCommand();
    expect([...helps.keys()]).to.include.members(['', 'env create', 'sg update', 'vm reboot', 'volume attach', 'op wait', 'tail', 'sim set', 'completion']);
    for (const [path, r] of helps) {
      expect(r.code, path).to.equal(0);
      expect(r.stdout, `mockcloud ${path} --help`).to.match(/^Examples:\n {2}(mockcloud|source|VM=|ENV=)/m);
    }
  });

  it('prints a bash completion script that bash accepts and that completes commands, flags and choices', async () => {
    const r = await cli('http://127.0.0.1:9', ['completion', 'bash']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('complete -F _mockcloud mockcloud');
    const dir = mkdtempSync(join(tmpdir(), 'mc-completion-'));
    try {
      const file = join(dir, 'c.bash');
      writeFileSync(file, r.stdout);
      const complete = (line: string) => {
        const words = line.split(' ');
        const script = `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _mockcloud; printf '%s\\n' "\${COMPREPLY[@]}"`;
        const out = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
        expect(out.status, out.stderr).to.equal(0);
        return out.stdout.trim().split('\n');
      };
      expect(complete('mockcloud v')).to.have.members(['vm', 'volume']);
      expect(complete('mockcloud vm ')).to.include.members(['create', 'list', 'get', 'update', 'delete', 'start', 'stop', 'reboot']);
      expect(complete('mockcloud vm create web --')).to.include.members(['--env', '--size', '--wait', '--output']);
      expect(complete('mockcloud vm create web --size ')).to.deep.equal(['small', 'medium', 'large', 'xlarge']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints a zsh completion script, and refuses other shells as a usage error', async () => {
    const zsh = await cli('http://127.0.0.1:9', ['completion', 'zsh']);
    expect(zsh.code).to.equal(0);
    expect(zsh.stdout).to.match(/^#compdef mockcloud/).and.include('compdef _mockcloud mockcloud').and.include("'vm create')");
    const tcsh = await cli('http://127.0.0.1:9', ['completion', 'tcsh']);
    expect(tcsh.code).to.equal(2);
    expect(tcsh.stderr).to.include('use bash, zsh or fish');
  });
});

describe('mockcloud tail across a server restart', function () {
  this.timeout(60_000);

  it('reconnects and resumes with Last-Event-ID, missing nothing that happened while it was down', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mc-tail-'));
    const port = await freePort();
    // A data dir, not --memory: the event log (and its sequence) must outlive the restart.
    let up = await startUp(['--data-dir', dataDir], port);
    try {
      const env = uniqName('envre');
      const tail = spawnCli(up.endpoint, ['tail']);
      await tail.until(/watching http/);
      expect((await cli(up.endpoint, ['env', 'create', env])).code).to.equal(0);
      await tail.until(/environment\.created/);
      await up.stop();
      await tail.until(/lost; reconnecting/);
      up = await startUp(['--data-dir', dataDir], port);
      const vm = await cli(up.endpoint, ['vm', 'create', 'after-restart', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait', '--quiet']);
      expect(vm.code, vm.stderr).to.equal(0);
      await tail.until(new RegExp(`vm\\.create ${vm.stdout.trim()}(?: \\(after-restart\\))?\\s+succeeded`), 15_000);
      expect(tail.out.stderr).to.include('reconnected');
      const createdLines = tail.out.stdout.split('\n').filter((l) => l.includes('environment.created') && l.includes(env));
      expect(createdLines, 'no event replayed twice after the resume').to.have.length(1);
      tail.child.kill('SIGINT');
      expect(await tail.exited).to.equal(130);
    } finally {
      await up?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('mockcloud CLI output into a closed pipe', function () {
  this.timeout(20_000);

  it('exits quietly (code 0, no stack) when the reader goes away, as `mockcloud … | head` does', async () => {
    const { spawn } = await import('node:child_process');
    const { cliPath } = await import('../support/process.js');
    const child = spawn(process.execPath, [cliPath(), 'vm', 'create', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the CLI writes a byte
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).to.not.match(/EPIPE|Unhandled/);
    expect(code).to.equal(0);
  });
});
