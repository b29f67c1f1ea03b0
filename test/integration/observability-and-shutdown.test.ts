import { expect } from 'chai';
import { client, uniq } from '../support/http.js';
import { freePort, spawnCli, startUp } from '../support/process.js';
import { openSse } from '../support/sse.js';
import { distributedUrls, STACK, startTestApi } from '../support/stack.js';
import { settle, sleep, waitFor } from '../support/wait.js';

describe('integration: metrics, logs and graceful shutdown', function () {
  this.timeout(60_000);

  it('exposes Prometheus metrics: request durations by operation, operations by kind and outcome, in flight, queue depth', async () => {
    const up = await startUp(['--memory', '--time-scale', '0', '--failure-rate', '0']);
    try {
      const http = client(up.url);
      const env = (await http.post('/api/v1/environments', { name: 'm' })).body;
      const vm = await http.post('/api/v1/vms', { name: 'm1', environment_id: env.id, size: 'small', image: 'debian-12' });
      await settle(http, vm.body.operation_id);
      const res = await fetch(`${up.url}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      const text = await res.text();
      expect(text).to.match(/mockcloud_http_request_duration_seconds_count\{[^}]*operation="createVm"[^}]*status="202"[^}]*\} 1/);
      expect(text).to.match(/mockcloud_operations_finished_total\{[^}]*kind="vm.create"[^}]*outcome="succeeded"[^}]*\} 1/);
      expect(text).to.match(/mockcloud_operations_in_flight\{[^}]*\} 0/);
      expect(text).to.match(/mockcloud_queue_depth\{[^}]*\} 0/);
      expect(text).to.contain('process_resident_memory_bytes');
    } finally {
      await up.stop();
    }
  });

  it('logs one JSON line per request with its request id, and operations with their ids', async () => {
    const up = await startUp(['--memory', '--time-scale', '0', '--log-level', 'info']);
    try {
      const http = client(up.url);
      const env = (await http.post('/api/v1/environments', { name: 'logs' }, { headers: { 'x-request-id': 'req-logged-1' } })).body;
      const vm = await http.post('/api/v1/vms', { name: 'l1', environment_id: env.id, size: 'small', image: 'debian-12' });
      await settle(http, vm.body.operation_id);
      await waitFor('log lines', async () => up.output().includes('operation finished'));
      const lines = up
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>);
      const request = lines.find((l) => l.request_id === 'req-logged-1' && l.msg === 'request completed');
      expect(request, 'a request line carrying the request id').to.not.equal(undefined);
      expect(request!.res.status).to.equal(201);
      const finished = lines.find((l) => l.msg === 'operation finished');
      expect(finished).to.include({ operation_id: vm.body.operation_id, kind: 'vm.create', resource_id: vm.body.id });
    } finally {
      await up.stop();
    }
  });

  it('on SIGTERM ends SSE streams with a retry hint and exits 0 within 10 s', async () => {
    const up = await startUp(['--memory']);
    const sse = openSse(`${up.url}/api/v1/events`);
    await waitFor('the stream to open', async () => sse.status === 200);
    const raw = fetch(`${up.url}/api/v1/events`).then((r) => r.text());
    await sleep(200);
    const started = Date.now();
    up.proc.kill('SIGTERM');
    expect(await up.exited).to.equal(0);
    expect(Date.now() - started).to.be.below(10_000);
    const text = await raw;
    expect(text.trimEnd().endsWith('retry: 2000')).to.equal(true);
    await sse.close();
  });

  if (STACK === 'distributed') {
    it('a worker on SIGTERM hands back its operations, exits 0 within 10 s, and another finishes them exactly once', async () => {
      const urls = distributedUrls();
      const api = await startTestApi({ timeScale: 1, worker: false });
      const metricsPort = await freePort();
      const env = { DATABASE_URL: urls.db, AMQP_URL: urls.amqp, REDIS_URL: urls.redis, MOCKCLOUD_QUEUE: api.queueName, MOCKCLOUD_LEASE_MS: '5000' };
      const first = spawnCli(['worker', '--metrics-port', String(metricsPort)], env);
      try {
        const http = client(api.baseUrl);
        const e = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) {
          const r = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: e.id, size: 'small', image: 'debian-12', tags: { 'mockcloud:duration': '4', 'mockcloud:outcome': 'succeed' } });
          ids.push(r.body.operation_id);
        }
        await waitFor('claims', async () => (await api.db('operations').whereIn('id', ids).where({ status: 'running' })).length === 10, 20_000);
        const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        expect(metrics).to.match(/mockcloud_operations_in_flight\{[^}]*\} 10/);
        const started = Date.now();
        first.proc.kill('SIGTERM');
        expect(await first.exited).to.equal(0);
        expect(Date.now() - started).to.be.below(10_000);
        const leases = await api.db('operations').whereIn('id', ids).select('status', 'lease_expires_ms');
        expect(leases.every((l: { status: string; lease_expires_ms: number }) => l.status === 'running' && l.lease_expires_ms === 0)).to.equal(true);
        const second = spawnCli(['worker'], env);
        try {
          for (const id of ids) expect((await settle(http, id, 30_000)).status).to.equal('succeeded');
          const terminal = await api.db('events').whereIn('operation_id', ids).whereIn('type', ['operation.succeeded', 'operation.failed']);
          expect(terminal).to.have.length(10);
        } finally {
          second.proc.kill('SIGTERM');
          await second.exited;
        }
      } finally {
        if (first.proc.exitCode === null) first.proc.kill('SIGKILL');
        await api.close();
      }
    });
  }
});
