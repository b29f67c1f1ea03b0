import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { cli, freePort, MAIN, spawnCli, startUp, uniqName, type Up } from './helpers.js';

// What a new user trips on (issue 13): start-up failures, usage errors, which store `migrate`
// touched, progress printed once on a terminal, and a queue nobody consumes.

const NO_SERVER = 'http://127.0.0.1:9';

/** Runs the CLI in a pseudo-terminal (`script`), where Ink draws live bars; answers the raw output. */
function inTerminal(endpoint: string, args: string[], input?: string): { code: number | null; output: string } {
  const quoted = [process.execPath, MAIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // A pty that reports no size is treated as a pipe by the CLI: give it one first.
  const r = spawnSync('script', ['-qec', `stty cols 120 rows 40; ${quoted}`, '/dev/null'], {
    encoding: 'utf8',
    input,
    env: { ...process.env, CI: undefined, MOCKCLOUD_OUTPUT: undefined, MOCKCLOUD_ENDPOINT: endpoint },
    timeout: 30_000,
  });
  return { code: r.status, output: r.stdout + r.stderr };
}

describe('mockcloud start-up failures', function () {
  this.timeout(30_000);

  it('says in one line that the port is taken and exits non-zero, instead of claiming to be up', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const child = spawn(process.execPath, [MAIN, 'up', '--memory', '--port', String(port), '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let stdout = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(code).to.equal(1);
      expect(stderr).to.equal(`mockcloud: port ${port} on 127.0.0.1 is already in use; pick another with --port\n`);
      expect(stdout).to.equal('');
    } finally {
      blocker.close();
    }
  });

  it('refuses `mockcloud server` without DATABASE_URL as a usage error pointing at `mockcloud up`', async () => {
    const r = await cli(NO_SERVER, ['server', '--port', String(await freePort())], { DATABASE_URL: undefined });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('needs DATABASE_URL').and.include('run `mockcloud up`');
    expect(r.stderr.trim().split('\n')).to.have.length(2);
  });
});

describe('mockcloud migrate', function () {
  this.timeout(30_000);

  it('says which store it migrated and how many migrations it applied, then that it is current', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-migrate-'));
    try {
      const first = await cli(NO_SERVER, ['migrate', '--data-dir', dir], { DATABASE_URL: undefined });
      expect(first.code, first.stderr).to.equal(0);
      const file = join(dir, 'mockcloud.db');
      expect(first.stdout).to.match(new RegExp(`^applied \\d+ migrations to sqlite ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(DATABASE_URL is not set\\)\\n$`));
      const again = await cli(NO_SERVER, ['migrate', '--data-dir', dir], { DATABASE_URL: undefined });
      expect(again.code).to.equal(0);
      expect(again.stdout).to.match(/^sqlite .* is already current \(\d+ migrations\)\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mockcloud migrate against an unreachable PostgreSQL', function () {
  this.timeout(30_000);

  it('names the store it could not reach and exits 1', async () => {
    const port = await freePort();
    const r = await cli(NO_SERVER, ['migrate'], { DATABASE_URL: `postgres://nobody:secret@127.0.0.1:${port}/mc` });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include(`error: cannot reach postgresql 127.0.0.1:${port}/mc (ECONNREFUSED`).and.include('is PostgreSQL running');
    expect(r.stderr, 'never the password').to.not.include('secret');
  });
});

describe('mockcloud CLI usage errors', () => {
  it('treats an endpoint without a scheme as a usage error with the likely fix (exit 2, no "bug")', async () => {
    const r = await cli('localhost:8000', ['vm', 'list']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.equal('error: --endpoint (MOCKCLOUD_ENDPOINT) must be an http:// or https:// URL, got "localhost:8000"\ndid you mean --endpoint http://localhost:8000?\n');
  });
});

describe('mockcloud CLI on a terminal', function () {
  this.timeout(60_000);
  let up: Up;
  before(async () => {
    up = await startUp();
  });
  after(async () => {
    await up?.stop();
  });

  it('prints the final line of --wait once', async () => {
    const env = uniqName('envtty');
    expect((await cli(up.endpoint, ['env', 'create', env])).code).to.equal(0);
    const r = inTerminal(up.endpoint, ['vm', 'create', 'tty1', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait']);
    expect(r.code, r.output).to.equal(0);
    expect(r.output, 'drawn with Ink (a real terminal)').to.match(/\u001b\[/);
    expect(r.output.match(/vm\.create .*succeeded/g), r.output).to.have.length(1);
  });

  it('asks before deleting a VM whose volumes it would detach, and keeps it on "n"', async () => {
    const env = uniqName('envask');
    for (const args of [
      ['env', 'create', env],
      ['vm', 'create', 'asked', '--env', env, '--tag', 'mockcloud:outcome=succeed', '--wait'],
      ['volume', 'create', 'vol', '--env', env, '--size', '1', '--tag', 'mockcloud:outcome=succeed', '--wait'],
      ['volume', 'attach', 'vol', 'asked', '--env', env, '--wait'],
    ]) {
      const r = await cli(up.endpoint, args);
      expect(r.code, r.stderr).to.equal(0);
    }
    const no = inTerminal(up.endpoint, ['vm', 'delete', 'asked', '--env', env], 'n\n');
    expect(no.output).to.include('deleting it detaches it').and.include('Delete it? [y/N]').and.include('VM asked was not deleted');
    expect(no.code).to.equal(1);
    expect((await cli(up.endpoint, ['vm', 'get', 'asked', '--env', env, '--query', 'status'])).stdout).to.equal('running\n');
    const yes = inTerminal(up.endpoint, ['vm', 'delete', 'asked', '--env', env], 'y\n');
    expect(yes.code, yes.output).to.equal(0);
    expect(yes.output).to.match(/VM asked \(vm-\S+\) is deleting/);
  });
});

describe('mockcloud CLI when no worker takes operations', function () {
  this.timeout(30_000);
  let server: Server;
  let endpoint: string;

  // A server whose operations stay queued forever, as one with no `mockcloud worker` running.
  before(async () => {
    const now = new Date().toISOString();
    const op = { id: 'op-stuck', kind: 'vm.start', status: 'pending', progress: 0, message: 'queued', resource_id: 'vm-stuck', resource_type: 'vm', environment_id: 'env-1', error: null, done: false, created_at: now, started_at: null, finished_at: null };
    const vm = { id: 'vm-stuck', name: 'stuck', environment_id: 'env-1', status: 'starting', operation_id: 'op-stuck' };
    server = createHttpServer((req, res) => {
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'GET' && req.url === '/api/v1/vms/vm-stuck') return send(200, vm);
      if (req.method === 'POST' && req.url === '/api/v1/vms/vm-stuck/start') return send(202, vm, { 'operation-location': '/api/v1/operations/op-stuck' });
      if (req.method === 'GET' && req.url === '/api/v1/operations/op-stuck') return send(200, op);
      if (req.url?.startsWith('/api/v1/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return void res.write(': open\n\n');
      }
      if (req.url?.startsWith('/api/v1/operations?')) return send(200, { items: req.url.includes('status=pending') ? [op] : [] });
      send(404, { type: 'about:blank', title: 'Not Found', status: 404, code: 'not_found' });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('--wait says "no worker is taking operations" after a few seconds, and keeps waiting', async () => {
    const p = spawnCli(endpoint, ['vm', 'start', 'vm-stuck', '--wait']);
    await p.until(/no worker is taking operations: op-stuck has been queued/, 15_000);
    expect(p.child.exitCode).to.equal(null);
    p.child.kill('SIGINT');
    expect(await p.exited).to.equal(130);
  });

  it('tail says the same about an operation queued with nobody to take it', async () => {
    const p = spawnCli(endpoint, ['tail']);
    await p.until(/no worker is taking operations: op-stuck/, 15_000);
    p.child.kill('SIGINT');
    await p.exited;
  });
});

describe('mockcloud tail when the server cannot resume the stream', function () {
  this.timeout(30_000);
  let server: Server;
  let endpoint: string;

  // A stream that opens with the SSE `reset` event (GET /events sends it when Last-Event-ID is older
  // than retention or beyond the newest event), then goes on live.
  before(async () => {
    const now = new Date().toISOString();
    server = createHttpServer((req, res) => {
      if (req.url?.startsWith('/api/v1/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`id: 41\nevent: reset\ndata: ${JSON.stringify({ type: 'reset', reason: 'expired', last_event_id: '3', pruned_through: 40, resume_after: 41, detail: 'events up to 40 are gone' })}\n\n`);
        const vm = { id: 'vm-after', name: 'after', status: 'running' };
        return void res.write(`id: 42\nevent: vm.status\ndata: ${JSON.stringify({ seq: 42, type: 'vm.status', resource_id: 'vm-after', resource_type: 'vm', created_at: now, data: vm })}\n\n`);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('says events may be missing and keeps showing the live ones, without reconnecting', async () => {
    const p = spawnCli(endpoint, ['tail']);
    await p.until(/vm-after after is running/, 15_000);
    expect(p.out.stderr).to.match(/could not resume without a gap \(expired\)/);
    expect(p.out.stderr).to.not.match(/connection to .* lost/);
    p.child.kill('SIGINT');
    await p.exited;
  });
});

describe('mockcloud sim overrides', function () {
  this.timeout(30_000);
  let up: Up;
  before(async () => {
    up = await startUp();
  });
  after(async () => {
    await up?.stop();
  });

  it('warns when a new failure rate leaves a per-kind override in force, shows overrides, and `sim reset` drops them', async () => {
    expect((await cli(up.endpoint, ['sim', 'set', '--op', 'vm.create:failure_rate=1'])).code).to.equal(0);
    const set = await cli(up.endpoint, ['sim', 'set', '--failure-rate', '0']);
    expect(set.code).to.equal(0);
    expect(set.stderr).to.include('note: vm.create keeps its own failure rate 100% (an --op override), not 0%').and.include('mockcloud sim reset');
    const got = await cli(up.endpoint, ['sim', 'get']);
    expect(got.stdout).to.match(/^vm\.create:\s+30–60 s, fails 100%\s+\(override\)$/m);
    expect(got.stdout).to.match(/^volume\.create:\s+30–60 s, fails 0%$/m);

    const reset = await cli(up.endpoint, ['sim', 'reset', '--output', 'json']);
    expect(reset.code).to.equal(0);
    expect(JSON.parse(reset.stdout).operations['vm.create'].failure_rate).to.equal(0);
    expect((await cli(up.endpoint, ['sim', 'get'])).stdout).to.not.include('(override)');
  });
});
