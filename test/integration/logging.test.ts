import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { client } from '../support/http.js';
import { cliPath, freePort, startUp } from '../support/process.js';
import { waitFor } from '../support/wait.js';

// How `mockcloud up` logs, as a user sees it: piped (a log shipper, CI) → JSON lines; on a terminal
// → one short human line per request; either way when asked with --log-format / MOCKCLOUD_LOG_FORMAT.

const humanRequestLine = /^\d\d:\d\d:\d\d POST \/api\/v1\/environments 201 [\d.]+ ms\r?$/m;

describe('integration: log format', function () {
  this.timeout(60_000);

  it('writes JSON lines when stdout is a pipe, and human lines when --log-format pretty asks', async () => {
    const piped = await startUp(['--memory', '--log-level', 'info']);
    const pretty = await startUp(['--memory', '--log-level', 'info', '--log-format', 'pretty']);
    try {
      await client(piped.url).post('/api/v1/environments', { name: 'piped' });
      await client(pretty.url).post('/api/v1/environments', { name: 'pretty' });
      await waitFor('the JSON request line', async () => piped.output().includes('"msg":"request completed"'));
      await waitFor('the human request line', async () => humanRequestLine.test(pretty.output()));
      expect(pretty.output()).to.not.include('{"level"');
      expect(piped.output()).to.not.match(humanRequestLine);
    } finally {
      await piped.stop();
      await pretty.stop();
    }
  });

  it('MOCKCLOUD_LOG_FORMAT=json keeps JSON lines on a terminal, which otherwise gets human lines', async () => {
    // `script` runs the server on a pseudo-terminal, so stdout.isTTY is true, as in a user's shell.
    const onTerminal = async (env: Record<string, string>) => {
      const port = await freePort();
      const cmd = `exec "${process.execPath}" "${cliPath()}" up --memory --port ${port} --log-level info`;
      const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      let out = '';
      proc.stdout!.on('data', (d) => (out += d));
      proc.stderr!.on('data', (d) => (out += d));
      const exited = new Promise((r) => proc.once('exit', r));
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitFor('the server on a terminal', async () => (await fetch(`${url}/ready`)).status === 200);
        await client(url).post('/api/v1/environments', { name: 'tty' });
        await waitFor('its request line', async () => out.includes('/api/v1/environments'));
        return out;
      } finally {
        process.kill(-proc.pid!, 'SIGTERM');
        await exited;
      }
    };
    const human = await onTerminal({ MOCKCLOUD_LOG_FORMAT: '' });
    expect(human).to.match(humanRequestLine);
    expect(human).to.not.include('"msg":"request completed"');
    const json = await onTerminal({ MOCKCLOUD_LOG_FORMAT: 'json' });
    expect(json).to.include('"msg":"request completed"');
    expect(json).to.not.match(humanRequestLine);
  });
});
