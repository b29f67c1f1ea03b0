import net from 'node:net';
import { expect } from 'chai';
import { client, uniq } from '../support/http.js';
import { freePort, spawnCli, type Child } from '../support/process.js';
import { openSse } from '../support/sse.js';
import { distributedUrls, STACK } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

// SSE streams in a real API process: clients that give up while their stream opens must leave
// nothing behind (the issue saw mockcloud_sse_clients at 594 after 200 of them, and a SIGTERM that
// never ended the process because their keepalive timers held it).

interface Api extends Child {
  url: string;
}

/** `mockcloud up --memory` on the embedded stack; `mockcloud server` on PostgreSQL and Redis otherwise. */
async function startApiProcess(): Promise<Api> {
  const port = await freePort();
  const child =
    STACK === 'distributed'
      ? spawnCli(['server', '--port', String(port)], { DATABASE_URL: distributedUrls().db, REDIS_URL: distributedUrls().redis })
      : spawnCli(['up', '--memory', '--port', String(port)]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('the API to be ready', async () => {
      if (child.proc.exitCode !== null) throw new Error(`exited: ${child.output()}`);
      return (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200;
    }, 30_000, 50);
  } catch (err) {
    child.proc.kill('SIGKILL');
    throw err;
  }
  return { ...child, url };
}

/** Asks for a stream on a raw socket and leaves after `afterMs` (0: as soon as the request is out). */
function leaveEarly(url: string, path: string, headers: Record<string, string>, afterMs: number): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      const head = Object.entries({ host: u.host, accept: 'text/event-stream', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      sock.write(`GET ${path} HTTP/1.1\r\n${head}\r\n`);
      if (afterMs === 0) sock.destroy();
      else setTimeout(() => sock.destroy(), afterMs);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => resolve());
  });
}

const sseClients = async (url: string): Promise<number | undefined> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^mockcloud_sse_clients(?:\{[^}]*\})? (\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
};

describe('integration: SSE streams in a running API process', function () {
  this.timeout(60_000);

  it('after 200 clients left while their streams opened, reports 0 open streams, serves new ones, and exits on SIGTERM', async () => {
    const api = await startApiProcess();
    try {
      const http = client(api.url);
      const env = (await http.post('/api/v1/environments', { name: uniq('env') })).body;
      const paths = ['/api/v1/events', `/api/v1/events?environment_id=${env.id}`, '/api/v1/events?last_event_id=0', `/api/v1/events?kind=vm&resource_id=${env.id}`];
      await Promise.all(Array.from({ length: 200 }, (_, i) => leaveEarly(api.url, paths[i % 4]!, i % 3 ? {} : { 'last-event-id': '1' }, i % 5)));
      await waitFor('mockcloud_sse_clients to come back to 0', async () => (await sseClients(api.url)) === 0);

      const sse = openSse(`${api.url}/api/v1/events?environment_id=${env.id}`);
      const raw = fetch(`${api.url}/api/v1/events`).then((r) => r.text());
      await waitFor('the stream to open', async () => sse.status === 200 && (await sseClients(api.url)) === 2);
      await http.patch(`/api/v1/environments/${env.id}`, { tags: { seen: 'yes' } });
      await waitFor('a live event', async () => sse.events.some((e) => e.data.resource_id === env.id));

      api.proc.kill('SIGTERM');
      expect(await api.exited).to.equal(0);
      expect((await raw).trimEnd().endsWith('retry: 2000')).to.equal(true);
      await sse.close();
    } finally {
      if (api.proc.exitCode === null) api.proc.kill('SIGKILL');
    }
  });
});
