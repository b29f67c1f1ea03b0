import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { cli, freePort, startUp, uniqName, type Up } from './helpers.js';

// What users of gh, doctl, flyctl and awslocal expect (issue 13): names next to IDs, an empty list
// that says so, table shaping, JSON queries, a raw API passthrough, a status page, a question
// before a delete that cascades, and fish completion.

describe('mockcloud CLI conveniences', function () {
  this.timeout(60_000);
  let up: Up;
  const run = (...args: string[]) => cli(up.endpoint, args);
  const ok = async (...args: string[]) => {
    const r = await run(...args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r;
  };

  before(async () => {
    up = await startUp();
  });
  after(async () => {
    await up?.stop();
  });

  it('says "No VMs found." on stderr for an empty list, leaving stdout empty', async () => {
    const env = uniqName('empty');
    await ok('env', 'create', env);
    const r = await ok('vm', 'list', '--env', env);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal('No VMs found.\n');
    expect((await ok('vm', 'list', '--env', env, '--output', 'json')).stdout).to.equal('[]\n');
  });

  it('shows names next to IDs in tables, details, progress lines and API errors', async () => {
    const env = uniqName('named');
    const envId = (await ok('env', 'create', env, '--query', 'id')).stdout.trim();
    await ok('sg', 'create', 'web', '--env', env);
    const created = await ok('vm', 'create', 'web1', '--env', env, '--sg', 'web', '--tag', 'mockcloud:outcome=succeed', '--wait');
    expect(created.stderr).to.match(/^op-\S+ vm\.create vm-\S+ \(web1\)\s+succeeded/m);
    const list = await ok('vm', 'list', '--env', env);
    expect(list.stdout.split('\n')[1]).to.match(new RegExp(`^vm-\\S+\\s+web1\\s+${env}\\s+small`));
    const shown = await ok('vm', 'get', 'web1', '--env', env);
    expect(shown.stdout).to.match(new RegExp(`^environment:\\s+${envId} \\(${env}\\)$`, 'm')).and.match(/^security groups:\s+sg-\S+ \(web\)$/m);
    // The server's problem speaks in IDs; the CLI adds the names the user typed.
    const refused = await run('env', 'delete', env);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include(`environment ${envId} (${env}) still holds`);
  });

  it('lays out every detail view the same way: `key:` padded, id and name first', async () => {
    const env = uniqName('layout');
    const e = await ok('env', 'create', env);
    const sim = await ok('sim', 'get');
    const valueAt = (line: string) => line.indexOf(':') + 1 + line.slice(line.indexOf(':') + 1).search(/\S/);
    for (const out of [e.stdout, sim.stdout]) {
      const lines = out.trimEnd().split('\n');
      for (const line of lines) expect(valueAt(line), line).to.equal(valueAt(lines[0]!));
    }
    expect(e.stdout.split('\n').slice(0, 2).map((l) => l.split(':')[0])).to.deep.equal(['id', 'name']);
  });

  it('shapes tables with --format and --no-header, and refuses an unknown column as a usage error', async () => {
    const env = uniqName('fmt');
    await ok('env', 'create', env, '--tag', 'k=v');
    const r = await ok('env', 'list', '--name', env, '--format', 'name,Status', '--no-header');
    expect(r.stdout).to.equal(`${env}  available\n`);
    const bad = await run('env', 'list', '--format', 'ID,colour');
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('no column "colour"').and.include('ID, NAME, CIDR, STATUS, TAGS');
  });

  it('--query applies JMESPath to the JSON output; a string prints bare, so $(…) gets the ID', async () => {
    const env = uniqName('query');
    const id = (await ok('env', 'create', env, '--query', 'id')).stdout;
    expect(id).to.match(/^env-[a-z0-9]+\n$/);
    const names = await ok('env', 'list', '--query', `[?name=='${env}'].{id: id, cidr: cidr}`);
    expect(JSON.parse(names.stdout)).to.deep.equal([{ id: id.trim(), cidr: '10.0.0.0/16' }]);
    const bad = await run('env', 'list', '--query', '[?');
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('is not a JMESPath expression');
  });

  it('`mockcloud api` sends raw requests: fields as query on GET, as a JSON body otherwise; an error status prints the problem and exits 1', async () => {
    const name = uniqName('raw');
    const created = await ok('api', 'POST', 'environments', '-f', `name=${name}`, '-f', 'tags[team]=infra', '-f', 'tags[n]=1');
    const env = JSON.parse(created.stdout);
    expect(env).to.include({ name, status: 'available' });
    expect(env.tags).to.deep.equal({ team: 'infra', n: '1' });
    // -F keeps JSON types: the simulation takes a number.
    const sim = await ok('api', 'PATCH', 'simulation', '-F', 'failure_rate=0.25');
    expect(JSON.parse(sim.stdout).failure_rate).to.equal(0.25);
  });

  it('`mockcloud api` passes GET fields as the query string and prints problems with exit 1', async () => {
    const name = uniqName('rawq');
    await ok('api', 'POST', '/api/v1/environments', '-f', `name=${name}`, '-f', 'tags[team]=rawq');
    const listed = await ok('api', 'GET', 'environments', '-f', 'tags[team]=rawq', '--query', 'items[].name');
    expect(JSON.parse(listed.stdout)).to.deep.equal([name]);
    const missing = await run('api', 'GET', '/api/v1/vms/vm-nope', '--include');
    expect(missing.code).to.equal(1);
    expect(missing.stdout).to.match(/^HTTP 404\n/).and.include('"code": "not_found"');
    expect(missing.stderr).to.equal('error: HTTP 404 not_found: Not found\n');
  });

  it('`mockcloud status` shows endpoint, version, mode, readiness, workers and simulation', async () => {
    const r = await ok('status');
    expect(r.stdout).to.match(new RegExp(`^endpoint:\\s+${up.endpoint.replace(/\./g, '\\.')}$`, 'm'));
    expect(r.stdout).to.match(/^server:\s+mockcloud \d+\.\d+\.\d+$/m).and.match(/^mode:\s+embedded/m).and.match(/^ready:\s+yes \(database ok/m);
    expect(r.stdout).to.match(/^workers:\s+in-process/m).and.match(/^simulation:\s+time scale /m);
    const json = JSON.parse((await ok('status', '--output', 'json')).stdout);
    expect(json).to.include({ endpoint: up.endpoint, mode: 'embedded', ready: true });
    expect(json.simulation).to.have.keys('time_scale', 'seed', 'failure_rate', 'operations');
  });

  it('refuses, without a terminal, to delete a VM with volumes attached unless --force; says what it detaches', async () => {
    const env = uniqName('cascade');
    await ok('env', 'create', env);
    await ok('vm', 'create', 'db', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
    await ok('volume', 'create', 'data', '--env', env, '--size', '1', '--tag', 'mockcloud:outcome=succeed', '--wait');
    await ok('volume', 'attach', 'data', 'db', '--env', env, '--wait');
    const refused = await run('vm', 'delete', 'db', '--env', env);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/VM db \(vm-\S+\) has 1 volume attached: vol-\S+ \(data\); deleting it detaches it/).and.include('--force');
    expect((await ok('vm', 'get', 'db', '--env', env, '--query', 'status')).stdout).to.equal('running\n');
    const forced = await ok('vm', 'delete', 'db', '--env', env, '--force', '--wait');
    expect(forced.stderr).to.include('deleting it detaches it');
    expect((await ok('volume', 'get', 'data', '--env', env, '--query', 'status')).stdout).to.equal('available\n');
  });

  it('deletes a VM without volumes without asking', async () => {
    const env = uniqName('plain');
    await ok('env', 'create', env);
    await ok('vm', 'create', 'solo', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
    await ok('vm', 'delete', 'solo', '--env', env, '--wait');
  });
});

describe('mockcloud status without a server', () => {
  it('says the endpoint cannot be reached (exit 1)', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(endpoint, ['status']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`cannot reach ${endpoint}`);
  });
});

describe('mockcloud fish completion', function () {
  this.timeout(30_000);

  it('prints a fish script whose tables cover commands, flags and choices (and fish accepts it, where installed)', async () => {
    const r = await cli('http://127.0.0.1:9', ['completion', 'fish']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include("complete -c mockcloud -f -a '(__mockcloud_complete)'").and.include("case 'vm create'").and.include("case '--size'");
    const hasFish = spawnSync('fish', ['--version']).status === 0;
    if (!hasFish) return;
    const dir = mkdtempSync(join(tmpdir(), 'mc-fish-'));
    try {
      const file = join(dir, 'mockcloud.fish');
      writeFileSync(file, r.stdout);
      const complete = (line: string) => {
        const out = spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' });
        expect(out.status, out.stderr).to.equal(0);
        return out.stdout.trim().split('\n').map((l) => l.split('\t')[0]);
      };
      expect(complete('mockcloud v')).to.have.members(['vm', 'volume']);
      expect(complete('mockcloud vm ')).to.include.members(['create', 'list', 'delete', 'reboot']);
      expect(complete('mockcloud vm create web --size ')).to.have.members(['small', 'medium', 'large', 'xlarge']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
