import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli, freePort, MAIN, uniqName } from './helpers.js';

// SPEC §10 end to end from a fresh `mockcloud up` with auth on: the generated admin token is printed
// once, then login → project create → token create → VM create with that token, and the saved
// context (0600) is what later commands use.

describe('CLI: login, project, token and a VM with that token, against `mockcloud up` with auth on', function () {
  this.timeout(90_000);
  let child: ChildProcess;
  let endpoint: string;
  let adminToken: string;
  let stderr = '';
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mockcloud-auth-cli-'));
  const env = { XDG_CONFIG_HOME: home, MOCKCLOUD_ENDPOINT: undefined, MOCKCLOUD_TOKEN: undefined, MOCKCLOUD_PROJECT: undefined, MOCKCLOUD_CONTEXT: undefined };

  before(async () => {
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, [MAIN, 'up', '--memory', '--port', String(port), '--time-scale', '0.01', '--failure-rate', '0', '--log-level', 'info'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MOCKCLOUD_AUTH: 'enforce', MOCKCLOUD_ADMIN_TOKEN: undefined, MOCKCLOUD_RATE_LIMIT: undefined, MOCKCLOUD_TIME_SCALE: undefined, MOCKCLOUD_PORT: undefined },
    });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mockcloud up did not start: ${stderr}`)), 20_000);
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('mockcloud is up at')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`mockcloud up exited with ${code}: ${stderr}`)));
    });
    adminToken = /generated the admin token[^\n]*\n\s+(\S+)/.exec(stderr)?.[1] ?? '';
    // the start-up log states the mode in one line (logs are written asynchronously: wait for it)
    const modeLines = () => stdout.split('\n').filter((l) => /"msg":"auth enforce"/.test(l));
    for (let i = 0; i < 100 && modeLines().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(modeLines()).to.have.length(1);
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('prints a generated admin token once and refuses requests without a token', async () => {
    expect(adminToken).to.match(/^mcadmin_[\w-]{40,}$/);
    const r = await fetch(`${endpoint}/api/v1/vms`);
    expect(r.status).to.equal(401);
    expect(r.headers.get('ratelimit-policy')).to.equal('"default";q=1200;w=60');
  });

  it('login → project create → token create → vm create --wait with that token', async () => {
    const login = await cli(endpoint, ['login', '--endpoint', endpoint, '--token', adminToken], env);
    expect(login.code, login.stderr).to.equal(0);
    expect(login.stderr).to.contain('logged in');
    const file = path.join(home, 'mockcloud', 'config.json');
    expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).contexts.default).to.include({ endpoint, token: adminToken });

    // From here on the saved context supplies endpoint and token.
    const whoami = await cli(endpoint, ['whoami', '--output', 'json'], env);
    expect(JSON.parse(whoami.stdout)).to.include({ kind: 'admin', auth: 'enforce' });
    const name = uniqName('team');
    const project = await cli(endpoint, ['project', 'create', name, '--output', 'json'], env);
    expect(project.code, project.stderr).to.equal(0);
    const projectId = JSON.parse(project.stdout).id as string;
    const list = await cli(endpoint, ['project', 'list'], env);
    expect(list.stdout).to.contain(name);

    const token = await cli(endpoint, ['token', 'create', 'ci', '--scope', '*:write', '--in-project', name, '--quiet'], env);
    expect(token.code, token.stderr).to.equal(0);
    const secret = token.stdout.trim();
    expect(secret).to.match(/^mc_[0-9A-Za-z]{40,44}$/);

    // A flag (and the environment) overrides the saved context's token.
    const asToken = { ...env, MOCKCLOUD_TOKEN: secret };
    const me = await cli(endpoint, ['whoami', '--output', 'json'], asToken);
    expect(JSON.parse(me.stdout)).to.include({ kind: 'token', project_id: projectId, role: 'owner' });
    const envName = uniqName('env');
    expect((await cli(endpoint, ['env', 'create', envName, '--token', secret], env)).code).to.equal(0);
    const vm = await cli(endpoint, ['vm', 'create', uniqName('vm'), '--env', envName, '--wait', '--output', 'json'], asToken);
    expect(vm.code, vm.stderr).to.equal(0);
    expect(JSON.parse(vm.stdout)).to.include({ status: 'running' });

    // The admin's own context does not see the project's VM in `default`; the token's project does.
    const adminVms = await cli(endpoint, ['vm', 'list', '--output', 'json'], env);
    expect(JSON.parse(adminVms.stdout)).to.deep.equal([]);
    const tokens = await cli(endpoint, ['token', 'list', '--output', 'json'], asToken);
    const tokenId = JSON.parse(tokens.stdout)[0].id as string;
    expect((await cli(endpoint, ['token', 'revoke', tokenId], asToken)).code).to.equal(0);
    const after = await cli(endpoint, ['vm', 'list'], asToken);
    expect(after.code).to.equal(1);
    expect(after.stderr).to.contain('revoked');
  });

  it('keeps contexts like kubectl: add, list, use', async () => {
    expect((await cli(endpoint, ['context', 'add', 'other', '--endpoint', 'http://127.0.0.1:1', '--token', 'mc_x'], env)).code).to.equal(0);
    const list = await cli(endpoint, ['context', 'list', '--output', 'json'], env);
    const rows = JSON.parse(list.stdout) as { name: string; current: boolean }[];
    expect(rows.map((r) => [r.name, r.current])).to.deep.equal([
      ['default', true],
      ['other', false],
    ]);
    expect(list.stdout).to.not.contain(adminToken);
    expect((await cli(endpoint, ['context', 'use', 'other'], env)).code).to.equal(0);
    const unreachable = await cli(endpoint, ['whoami'], env);
    expect(unreachable.code).to.not.equal(0);
    expect((await cli(endpoint, ['context', 'use', 'nope'], env)).code).to.equal(2);
    expect((await cli(endpoint, ['whoami', '--context', 'default', '--output', 'json'], env)).code).to.equal(0);
  });
});
