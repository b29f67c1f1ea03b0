import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { packageRoot } from '../../core/paths.js';
import { MAIN, startUp, type Up } from './helpers.js';

// The README's shell blocks, run as written and in order, as a new user would from a fresh clone
// (issue 13). Only two things differ from a user's terminal: the server is `mockcloud up --memory`
// on a free port (MOCKCLOUD_ENDPOINT points the CLI and the curl section's $API at it), and
// `mockcloud` is a shim on PATH, as `npm link` would make it. A block that cannot run here says why
// in a marker right above it: `<!-- readme-test: skip (reason) -->`, `server` (starts mockcloud:
// the test's own server stands in) or `background` (a command that runs until stopped).

interface Block {
  line: number;
  text: string;
  marker: 'run' | 'skip' | 'server' | 'background';
  reason?: string;
}

export function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README line ${i + 1}: unclosed code block`);
    const marker = /^<!-- readme-test: (\w+)(?: \((.+)\))? -->$/.exec(lines[i - 1] ?? '');
    if (['sh', 'bash', 'shell', ''].includes(open[1]!)) {
      blocks.push({ line: i + 1, text: lines.slice(i + 1, end).join('\n'), marker: (marker?.[1] as Block['marker']) ?? 'run', reason: marker?.[2] });
    }
    i = end;
  }
  return blocks;
}

describe('README', function () {
  this.timeout(180_000);
  const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
  const blocks = readmeBlocks(readme);

  it('marks every shell block it does not run, with a reason', () => {
    expect(blocks.filter((b) => b.marker === 'run').length).to.be.greaterThan(2);
    for (const b of blocks) {
      expect(['run', 'skip', 'server', 'background'], `README line ${b.line}`).to.include(b.marker);
      if (b.marker === 'skip') expect(b.reason, `README line ${b.line}: a skipped block says why`).to.be.a('string').and.not.empty;
    }
    // The Docker line is shown, not silently dropped.
    expect(blocks.find((b) => b.text.includes('docker run'))?.marker).to.equal('skip');
  });

  describe('run top to bottom against a fresh server', () => {
    let up: Up;
    let dir: string;
    before(async () => {
      up = await startUp(['--time-scale', '1']);
      dir = mkdtempSync(join(tmpdir(), 'mc-readme-'));
    });
    after(async () => {
      await up?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('runs every block without one error', () => {
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      writeFileSync(join(bin, 'mockcloud'), `#!/bin/sh\nexec '${process.execPath}' '${MAIN}' "$@"\n`);
      chmodSync(join(bin, 'mockcloud'), 0o755);

      const script = ['set -eo pipefail'];
      let background = false;
      blocks.forEach((b, i) => {
        if (b.marker === 'skip' || b.marker === 'server') return;
        script.push(`echo '### README block ${i} (line ${b.line})'`);
        if (b.marker === 'background') {
          const command = b.text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
          expect(command, `README line ${b.line}: a background block is one command`).to.have.length(1);
          script.push(`${command[0]} > background.log 2>&1 &`, 'BG=$!', 'for i in $(seq 100); do grep -q watching background.log && break; sleep 0.1; done');
          background = true;
          return;
        }
        script.push(b.text);
        if (background) {
          script.push('kill $BG; wait $BG || true');
          background = false;
        }
      });
      const r = spawnSync('bash', ['-c', script.join('\n')], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 150_000,
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, MOCKCLOUD_ENDPOINT: up.endpoint, MOCKCLOUD_OUTPUT: undefined, MOCKCLOUD_TOKEN: undefined },
      });
      const output = `${r.stdout}\n${r.stderr}`;
      expect(r.status, output).to.equal(0);
      expect(output, 'no CLI error').to.not.match(/^error:/m);
      expect(output).to.not.include('already_exists').and.not.include('undefined');
      // The curl section: the tag filter finds the environment (curl -g), the delete that must be
      // refused is refused once, and the clean-up deletes answer 204.
      expect(r.stdout).to.include('"name":"curl-demo"');
      expect(r.stdout.match(/"code":"dependency_violation"/g)).to.have.length(1);
      expect(r.stdout.trimEnd().endsWith('204')).to.equal(true);
      // The CLI section: --query and --format shaped what was printed; `tail` saw the reboot.
      expect(r.stdout).to.match(/^\[\n {2}"web1"\n\]$/m);
      expect(r.stdout).to.match(/^vm-\S+\s+web1\s+running$/m);
      expect(readFileSync(join(dir, 'background.log'), 'utf8')).to.match(/vm\.reboot vm-\S+( \(web1\))?\s+succeeded/);
    });
  });
});
