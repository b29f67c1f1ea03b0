import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileServerBundle } from '../../cli/bundle.js';

// dist/cli/main.js runs the esbuild bundle (dist/bundle/, scripts/bundle.mjs) while it is newer than
// every compiled file it was made from, and the modules in dist/ otherwise: a build with tsc alone
// must never run stale code.

const dist = fileURLToPath(new URL('../../', import.meta.url));
const launcher = path.join(dist, 'cli', 'main.js');

const run = (main: string, env: Record<string, string> = {}, args: string[] = []) =>
  execFileSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 15000 });

describe('unit: the CLI bundle', () => {
  it('is built, current, and answers as the modules do', () => {
    expect(fs.existsSync(path.join(dist, 'bundle', 'program.js')), 'npm run build writes dist/bundle/').to.equal(true);
    const inputs = JSON.parse(fs.readFileSync(path.join(dist, 'bundle', 'inputs.json'), 'utf8')) as string[];
    expect(inputs).to.include('cli/program.js');
    expect(inputs).to.include('server/main.js');
    const built = fs.statSync(path.join(dist, 'bundle', 'program.js')).mtimeMs;
    for (const f of inputs) expect(fs.statSync(path.join(dist, f)).mtimeMs, f).to.be.at.most(built);
    for (const args of [['--help'], ['up', '--help'], ['worker', '--help'], ['vm', '--help'], ['--version']]) {
      expect(run(launcher, {}, args), args.join(' ')).to.equal(run(launcher, { MOCKCLOUD_NO_BUNDLE: '1' }, args));
    }
  });

  it('gives the server roles one CommonJS file whose recorded code cache this V8 accepts', () => {
    const info = JSON.parse(fs.readFileSync(path.join(dist, 'bundle', 'server.cache.json'), 'utf8')) as { v8: string };
    expect(info.v8).to.equal(process.versions.v8);
    const script = compileServerBundle(path.join(dist, 'bundle', 'server.cjs'), fs.readFileSync(path.join(dist, 'bundle', 'server.cache')));
    expect(script.cachedDataRejected).to.equal(false);
    // A script compiled by vm.Script cannot import() on Node 20: every import() must be bundled or a require().
    const source = fs.readFileSync(path.join(dist, 'bundle', 'server.cjs'), 'utf8');
    expect(source).to.not.match(/\bimport\("/); // esbuild writes its strings in double quotes; comments here use single ones
    // ASCII only: one other character makes Node read the whole file into a two-byte string.
    expect(source).to.not.match(/[^\x00-\x7f]/);
  });

  it('runs the bundle only while no input is newer than it', () => {
    // A copy of the launcher in a miniature dist/ whose "program" says which one ran.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mockcloud-bundle-'));
    try {
      fs.mkdirSync(path.join(dir, 'cli'));
      fs.mkdirSync(path.join(dir, 'bundle'));
      fs.copyFileSync(launcher, path.join(dir, 'cli', 'main.js'));
      fs.copyFileSync(path.join(dist, 'cli', 'bundle.js'), path.join(dir, 'cli', 'bundle.js'));
      fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
      fs.writeFileSync(path.join(dir, 'cli', 'program.js'), "console.log('modules');");
      fs.writeFileSync(path.join(dir, 'cli', 'other.js'), '');
      fs.writeFileSync(path.join(dir, 'bundle', 'program.js'), "console.log('bundle');");
      fs.writeFileSync(path.join(dir, 'bundle', 'inputs.json'), JSON.stringify(['cli/program.js', 'cli/other.js']));
      const main = path.join(dir, 'cli', 'main.js');
      const at = (file: string, s: number) => fs.utimesSync(path.join(dir, file), s, s);
      at('cli/program.js', 1000);
      at('cli/other.js', 1000);
      at('bundle/program.js', 2000);
      expect(run(main).trim()).to.equal('bundle');
      expect(run(main, { MOCKCLOUD_NO_BUNDLE: '1' }).trim()).to.equal('modules');
      // The server roles: the CommonJS bundle, only with a code cache from this V8.
      fs.writeFileSync(path.join(dir, 'bundle', 'server.cjs'), "console.log('server', require('node:path').basename(__filename));");
      at('bundle/server.cjs', 2000);
      expect(run(main, {}, ['up']).trim()).to.equal('bundle');
      fs.writeFileSync(path.join(dir, 'bundle', 'server.cache'), 'not a cache');
      fs.writeFileSync(path.join(dir, 'bundle', 'server.cache.json'), JSON.stringify({ v8: process.versions.v8 }));
      expect(run(main, {}, ['up']).trim()).to.equal('server server.cjs');
      expect(run(main, {}, ['worker']).trim()).to.equal('server server.cjs');
      expect(run(main, {}, ['vm']).trim()).to.equal('bundle');
      fs.writeFileSync(path.join(dir, 'bundle', 'server.cache.json'), JSON.stringify({ v8: '0.0' }));
      expect(run(main, {}, ['up']).trim()).to.equal('bundle');
      at('cli/other.js', 3000); // recompiled after the bundle was made
      expect(run(main).trim()).to.equal('modules');
      at('cli/other.js', 1000);
      fs.rmSync(path.join(dir, 'cli', 'other.js')); // an input that is gone
      expect(run(main).trim()).to.equal('modules');
      fs.writeFileSync(path.join(dir, 'cli', 'other.js'), '');
      at('cli/other.js', 1000);
      fs.rmSync(path.join(dir, 'bundle', 'inputs.json'));
      expect(run(main).trim()).to.equal('modules');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
