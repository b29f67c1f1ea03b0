import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { cli, freePort, MAIN, spawnCli, startUp, uniqName, type Up } from './helpers.js';

// The CLI as a child process against a real `mockcloud up --memory`, checking stdout, stderr and
// exit codes. Stdout is a pipe here, so the output is the plain (no escape code) kind.

const ESC = /\u001b\[/;

describe('mockcloud CLI against a running server', function () {
  this.timeout(30_000);
  let up: Up;
  const run = (...args: string[]) => cli(up.endpoint, args);
  const json = async <T = any>(...args: string[]): Promise<T> => {
    const r = await run(...args, '--output', 'json');
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return JSON.parse(r.stdout) as T;
  };

  before(async () => {
    up = await startUp();
  });
  after(async () => {
    await up?.stop();
  });

  describe('environments', () => {
    it('creates, shows, lists, renames and deletes an environment by name', async () => {
      const name = uniqName('env');
      const created = await run('env', 'create', name, '--cidr', '10.8.0.0/16', '--tag', 'team=infra');
      expect(created.code).to.equal(0);
      expect(created.stdout).to.match(/^id:\s+env-/m).and.match(new RegExp(`^name:\\s+${name}$`, 'm')).and.match(/^cidr:\s+10\.8\.0\.0\/16$/m);
      expect(created.stdout + created.stderr).to.not.match(ESC);

      const got = await json('env', 'get', name);
      expect(got).to.include({ name, cidr: '10.8.0.0/16', status: 'available' });
      expect(got.tags).to.deep.equal({ team: 'infra' });

      const listed = await run('env', 'list');
      expect(listed.stdout.split('\n')[0]).to.match(/^ID\s+NAME\s+CIDR\s+STATUS\s+TAGS$/);
      expect(listed.stdout).to.include(got.id);

      const quiet = await run('env', 'list', '--name', name, '--quiet');
      expect(quiet.stdout).to.equal(`${got.id}\n`);

      const renamed = await json('env', 'update', name, '--name', `${name}-b`, '--untag', 'team');
      expect(renamed).to.include({ id: got.id, name: `${name}-b` });
      expect(renamed.tags).to.deep.equal({});

      const deleted = await run('env', 'delete', `${name}-b`);
      expect(deleted.code).to.equal(0);
      expect(deleted.stderr).to.include(`deleted environment ${name}-b (${got.id})`);
      const gone = await run('env', 'get', got.id);
      expect(gone.code).to.equal(1);
    });

    it('prints exactly the API objects as one JSON array with --output json', async () => {
      const name = uniqName('envj');
      const created = await json('env', 'create', name);
      const res = await fetch(`${up.endpoint}/api/v1/environments/${created.id}`);
      expect(await json('env', 'list', '--name', name)).to.deep.equal([await res.json()]);
    });

    it('refuses a bad CIDR with exit 1 and the problem detail on one line, no stack trace', async () => {
      const r = await run('env', 'create', uniqName('bad'), '--cidr', '10.0.0.0/33');
      expect(r.code).to.equal(1);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(/^error: .*10\.0\.0\.0\/33.* \(validation_failed\)\n$/);
      expect(r.stderr).to.not.include('    at ');
    });

    it('refuses to delete an environment that still holds a security group (dependency_violation)', async () => {
      const env = uniqName('envd');
      await json('env', 'create', env);
      await json('sg', 'create', 'web', '--env', env);
      const r = await run('env', 'delete', env);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/^error: .*\(dependency_violation\)$/m);
      expect((await run('env', 'get', env)).code).to.equal(0);
    });
  });

  describe('usage errors', () => {
    it('exits 2 on an unknown flag, before any request', async () => {
      const r = await cli('http://127.0.0.1:9', ['env', 'list', '--bogus']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include("unknown option '--bogus'");
    });

    it('exits 2 on a malformed --rule, naming the expected shape', async () => {
      const r = await run('sg', 'create', 'x', '--env', 'whatever', '--rule', 'ingress:tcp:22');
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include('DIRECTION:PROTOCOL:PORTS:CIDR');
    });

    it('exits 2 on a missing required flag and on a bad choice', async () => {
      expect((await run('vm', 'create', 'x')).code).to.equal(2);
      const r = await run('vm', 'create', 'x', '--env', 'e', '--size', 'huge');
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include('huge');
    });
  });

  describe('names and IDs', () => {
    it('says clearly when a VM name is unknown (exit 1)', async () => {
      const r = await run('vm', 'get', 'no-such-vm');
      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal('error: no VM with ID or name "no-such-vm"\nsee `mockcloud vm list`\n');
    });

    it('refuses an ambiguous name and accepts it once scoped with --env', async () => {
      const [a, b] = [uniqName('amb'), uniqName('amb')];
      await json('env', 'create', a, '--cidr', '10.20.0.0/24');
      await json('env', 'create', b, '--cidr', '10.21.0.0/24');
      const sgA = await json('sg', 'create', 'shared-name', '--env', a);
      await json('sg', 'create', 'shared-name', '--env', b);
      const r = await run('sg', 'get', 'shared-name');
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/"shared-name" names \d+ security groups/).and.include('--env');
      expect((await json('sg', 'get', 'shared-name', '--env', a)).id).to.equal(sgA.id);
    });
  });

  describe('security groups', () => {
    it('creates rules from --rule flags in order, including port-less icmp', async () => {
      const env = uniqName('envsg');
      await json('env', 'create', env);
      const sg = await json('sg', 'create', 'web', '--env', env, '--rule', 'ingress:tcp:22:0.0.0.0/0', '--rule', 'ingress:icmp::10.0.0.0/8', '--rule', 'egress:tcp:8000-8080:10.0.0.0/8');
      expect(sg.rules).to.deep.equal([
        { direction: 'ingress', protocol: 'tcp', port_from: 22, port_to: 22, cidr: '0.0.0.0/0' },
        { direction: 'ingress', protocol: 'icmp', cidr: '10.0.0.0/8' },
        { direction: 'egress', protocol: 'tcp', port_from: 8000, port_to: 8080, cidr: '10.0.0.0/8' },
      ]);
      const shown = await run('sg', 'get', 'web', '--env', env);
      expect(shown.stdout).to.match(/^rules:\s+ingress:tcp:22:0\.0\.0\.0\/0, ingress:icmp::10\.0\.0\.0\/8, egress:tcp:8000-8080:10\.0\.0\.0\/8$/m);
      const cleared = await json('sg', 'update', sg.id, '--no-rules');
      expect(cleared.rules).to.deep.equal([]);
    });

    it('passes a bad rule CIDR to the server and shows its detail (exit 1)', async () => {
      const env = uniqName('envsg');
      await json('env', 'create', env);
      const r = await run('sg', 'create', 'web', '--env', env, '--rule', 'ingress:tcp:22:300.0.0.0/8');
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include('300.0.0.0/8').and.include('(validation_failed)');
    });
  });

  describe('VMs and volumes with --wait', () => {
    let env: string;
    before(async () => {
      env = uniqName('envvm');
      await json('env', 'create', env);
    });

    it('follows a create that succeeds: progress lines on stderr, the running VM on stdout, exit 0', async () => {
      const r = await run('vm', 'create', 'ok', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/vm\.create vm-\S+ \(\S+\)\s+\d+%\s+\S/);
      expect(r.stderr).to.match(/vm\.create vm-\S+ \(\S+\)\s+succeeded/);
      expect(r.stderr).to.not.match(ESC);
      expect(r.stdout).to.match(/^status:\s+running$/m);
    });

    it('follows a create forced to fail: exit 1 with the operation error', async () => {
      const r = await run('vm', 'create', 'doomed', '--env', env, '--tag', 'mockcloud:outcome=fail', '--wait');
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/^error: operation op-\S+ \(vm\.create vm-\S+ \(\S+\)\) failed: .+ \(\w+\)$/m);
      const vm = await json('vm', 'get', 'doomed', '--env', env);
      expect(vm.status).to.equal('error');
    });

    it('prints the settled VM as JSON with --wait --output json, and only its ID with --quiet', async () => {
      const vm = await json('vm', 'create', 'j1', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
      expect(vm).to.include({ name: 'j1', status: 'running', progress: 100 });
      const q = await run('vm', 'create', 'q1', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait', '--quiet');
      expect(q.code).to.equal(0);
      expect(q.stdout).to.match(/^vm-\S+\n$/);
      expect(q.stderr).to.equal('');
    });

    it('answers at once without --wait, with the VM creating and a hint to follow it', async () => {
      const r = await run('vm', 'create', 'nowait', '--env', env, '--tag', 'mockcloud:outcome=succeed');
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^status:\s+creating$/m);
      expect(r.stderr).to.match(/is creating \(operation op-\S+\); follow it with `mockcloud tail vm-\S+`/);
    });

    it('stops, starts and reboots a VM by name, then deletes it', async () => {
      await json('vm', 'create', 'cycle', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
      expect((await json('vm', 'stop', 'cycle', '--env', env, '--wait')).status).to.equal('stopped');
      const wrong = await run('vm', 'reboot', 'cycle', '--env', env);
      expect(wrong.code).to.equal(1);
      expect(wrong.stderr).to.include('(invalid_state)');
      expect((await json('vm', 'start', 'cycle', '--env', env, '--wait')).status).to.equal('running');
      expect((await json('vm', 'reboot', 'cycle', '--env', env, '--wait')).status).to.equal('running');
      const op = await json('vm', 'delete', 'cycle', '--env', env, '--wait');
      expect(op).to.include({ kind: 'vm.delete', status: 'succeeded', done: true });
      expect((await run('vm', 'get', 'cycle', '--env', env)).code).to.equal(1);
    });

    it('creates, attaches, detaches and deletes a volume by name', async () => {
      await json('vm', 'create', 'host', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
      const vol = await json('volume', 'create', 'data', '--env', env, '--size', '10', '--tag', 'mockcloud:outcome=succeed', '--wait');
      expect(vol).to.include({ status: 'available', size_gb: 10 });
      const attached = await json('volume', 'attach', 'data', 'host', '--env', env, '--wait');
      expect(attached.status).to.equal('in-use');
      expect(attached.attachment.device).to.equal('/dev/vdb');
      const busy = await run('volume', 'delete', 'data', '--env', env);
      expect(busy.code).to.equal(1);
      expect(busy.stderr).to.include('(volume_in_use)');
      expect((await json('volume', 'detach', 'data', '--env', env, '--wait')).status).to.equal('available');
      const listed = await run('volume', 'list', '--env', env);
      expect(listed.stdout).to.match(/^ID\s+NAME\s+ENVIRONMENT\s+SIZE\s+TYPE\s+STATUS\s+ATTACHED$/m).and.include('10 GB');
      expect((await run('volume', 'delete', 'data', '--env', env, '--wait')).code).to.equal(0);
    });

    it('lists and shows operations', async () => {
      const vm = await json('vm', 'create', 'ops', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
      const ops = await json<any[]>('op', 'list', '--resource', vm.id);
      expect(ops.map((o) => o.kind)).to.deep.equal(['vm.create']);
      const op = await json('op', 'get', ops[0].id);
      expect(op).to.include({ id: ops[0].id, status: 'succeeded', resource_id: vm.id });
      const table = await run('op', 'list', '--resource', vm.id);
      expect(table.stdout).to.match(/^ID\s+KIND\s+RESOURCE\s+STATUS\s+PROGRESS\s+MESSAGE$/m).and.include('vm.create');
    });

    it('exits 130 on Ctrl-C during --wait, saying the operation continues and how to follow it', async () => {
      const p = spawnCli(up.endpoint, ['vm', 'create', 'slow', '--env', env, '--tag', 'mockcloud:duration=600', '--tag', 'mockcloud:outcome=succeed', '--wait']);
      await p.until(/vm\.create vm-\S+ \(slow\)\s+\d+%/);
      p.child.kill('SIGINT');
      expect(await p.exited).to.equal(130);
      expect(p.out.stderr).to.match(/operation op-\S+ continues on the server; follow it with `mockcloud op wait op-\S+` or `mockcloud tail vm-\S+`/);
      const vm = await json('vm', 'get', 'slow', '--env', env);
      expect(vm.status).to.equal('creating');
    });
  });

  describe('tail', () => {
    it('prints operation steps and resource events live, and exits on Ctrl-C', async () => {
      const env = uniqName('envtail');
      const envObj = await json('env', 'create', env);
      const p = spawnCli(up.endpoint, ['tail', '--env', env]);
      await p.until(/watching http/);
      const vm = await json('vm', 'create', 'watched', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
      await p.until(new RegExp(`vm\\.create ${vm.id}(?: \\(watched\\))?\\s+succeeded`));
      expect(p.out.stdout).to.match(new RegExp(`vm\\.create ${vm.id}(?: \\(watched\\))?\\s+\\d+%`));
      await p.until(new RegExp(`vm\\.status\\s+${vm.id} watched is running`));
      expect(vm.environment_id).to.equal(envObj.id);
      expect(p.out.stdout).to.not.match(ESC);
      p.child.kill('SIGINT');
      expect(await p.exited).to.equal(130);
    });

    it('prints one JSON event per line with --output json, filtered to one resource', async () => {
      const env = uniqName('envtj');
      await json('env', 'create', env);
      const other = await json('vm', 'create', 'other', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
      const vm = await json('vm', 'create', 'one', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait');
      const p = spawnCli(up.endpoint, ['tail', vm.id, '--output', 'json']);
      await p.until(/watching http/);
      await Promise.all([json('vm', 'stop', other.id, '--wait'), json('vm', 'stop', vm.id, '--wait')]);
      await p.until(/"operation\.succeeded"/);
      p.child.kill('SIGINT');
      await p.exited;
      const events = p.out.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(events.map((e) => e.type)).to.include.members(['operation.progress', 'operation.succeeded', 'vm.status']);
      expect(events.every((e) => e.resource_id === vm.id)).to.equal(true);
      expect(events.find((e) => e.type === 'operation.succeeded').data).to.include({ kind: 'vm.stop', status: 'succeeded', resource_id: vm.id });
    });
  });

  describe('simulation', () => {
    it('shows and changes the simulation settings', async () => {
      const before = await json('sim', 'get');
      expect(before).to.have.keys('time_scale', 'seed', 'failure_rate', 'operations');
      const after = await json('sim', 'set', '--seed', '7', '--op', 'vm.reboot:min_s=1,max_s=2');
      expect(after.seed).to.equal(7);
      expect(after.operations['vm.reboot']).to.include({ min_s: 1, max_s: 2 });
      expect(after.time_scale).to.equal(before.time_scale);
      const shown = await run('sim', 'get');
      expect(shown.stdout).to.match(/^seed:\s+7$/m);
    });
  });

  describe('start-up cost', () => {
    it('does not load React or Ink for --output json', () => {
      const probe = `
        import { createRequire } from 'node:module';
        const require = createRequire(import.meta.url);
        process.argv = [process.argv[0], ${JSON.stringify(MAIN)}, 'vm', 'list', '--output', 'json'];
        process.on('exit', () => process.stderr.write('react=' + Object.keys(require.cache).some((k) => /node_modules[\\\\/](react|ink)[\\\\/]/.test(k))));
        await import(${JSON.stringify(MAIN)});`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { env: { ...process.env, MOCKCLOUD_ENDPOINT: up.endpoint }, encoding: 'utf8' });
      expect(JSON.parse(r.stdout)).to.be.an('array');
      expect(r.stderr).to.equal('react=false');
    });

    // undici's WebAssembly HTTP parser made V8 finish compiling it before the process could exit:
    // ~0.2–0.6 s of idle after every command's output (issue 13; bench `cli-exit` measures it).
    it('sends its requests without undici (whose parser held the process open after the output)', () => {
      const probe = `
        import { createRequire } from 'node:module';
        const require = createRequire(import.meta.url);
        process.argv = [process.argv[0], ${JSON.stringify(MAIN)}, 'vm', 'list'];
        process.on('exit', () => process.stderr.write('undici=' + Object.keys(require.cache).some((k) => /node_modules[\\/]undici[\\/]/.test(k))));
        await import(${JSON.stringify(MAIN)});`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { env: { ...process.env, MOCKCLOUD_ENDPOINT: up.endpoint, CI: 'true' }, encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/undici=false$/);
    });
  });
});

describe('mockcloud CLI without a server', () => {
  it('hints that `mockcloud up` may not be running (exit 1)', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(endpoint, ['vm', 'list']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal(`error: cannot reach ${endpoint}: connection refused\nis \`mockcloud up\` running at ${endpoint}? (set --endpoint or MOCKCLOUD_ENDPOINT)\n`);
  });

  // Read from the help rather than by sending a request: a mockcloud the user started from the
  // README may well be answering on :8000 while the tests run.
  it('uses http://localhost:8000 when no endpoint is set', async () => {
    const r = await cli('', ['--help'], { MOCKCLOUD_ENDPOINT: undefined });
    expect(r.stdout.replace(/\s+/g, ' ')).to.include('--endpoint <url> API endpoint (default: "http://localhost:8000", env: MOCKCLOUD_ENDPOINT)');
  });
});
