import { expect } from 'chai';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createApp } from '../../server/app.js';
import { createServices } from '../../server/services.js';
import { client } from '../support/http.js';
import { spawnCli } from '../support/process.js';
import { listenLocal, openTestStack, type Listening, type TestStack } from '../support/stack.js';

describe('api: failures of our own', () => {
  let stack: TestStack;
  let listening: Listening;
  let logs: string;
  let base: string;

  before(async () => {
    stack = await openTestStack();
    logs = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs += chunk.toString();
        done();
      },
    });
    const services = await createServices({
      db: stack.db,
      bus: stack.bus,
      dispatcher: stack.queue,
      simulation: { time_scale: 0, seed: null, failure_rate: 0, operations: {} },
      probes: { queue: async () => false },
    });
    // A bug: the service throws something that is not an AppError, with internals in its message.
    services.environments.list = async () => {
      throw new Error('connection string postgres://admin:hunter2@db secret');
    };
    const app = createApp({ services, logger: pino({ level: 'error' }, sink), validateResponses: true });
    listening = await listenLocal(app);
    base = listening.baseUrl;
  });
  after(async () => {
    await listening.close();
    await stack.close();
  });

  it('answers an unexpected exception with a 500 problem that reveals nothing, and logs its stack', async () => {
    const r = await client(base).get('/api/v1/environments', { headers: { 'x-request-id': 'bug-1' } });
    expect(r.status).to.equal(500);
    expect(r.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(r.body).to.include({ code: 'internal_error', status: 500, request_id: 'bug-1' });
    expect(r.text).to.not.contain('hunter2');
    expect(r.text).to.not.match(/at .*\.js:\d+/);
    const line = logs.split('\n').find((l) => l.includes('"request_id":"bug-1"') && l.includes('"stack"'));
    expect(line, 'an error log line with the stack and the request id').to.not.equal(undefined);
    expect(line).to.contain('hunter2');
  });

  it('answers /ready with a 503 problem naming what is down, with Retry-After', async () => {
    const r = await client(base).get('/ready');
    expect(r.status).to.equal(503);
    expect(r.body.code).to.equal('unavailable');
    expect(r.body.dependents).to.deep.equal([{ id: 'queue', type: 'dependency' }]);
    expect(r.body.detail).to.contain('queue');
    expect(r.headers.get('retry-after')).to.equal('5');
  });

  it('stops `mockcloud up` on a bad setting with one line naming it and exit code 2', async () => {
    for (const [args, env, name] of [
      [['up', '--port', 'abc'], {}, '--port'],
      [['up', '--memory'], { MOCKCLOUD_TIME_SCALE: 'fast' }, 'MOCKCLOUD_TIME_SCALE'],
      [['worker'], { AMQP_URL: 'http://nope' }, 'AMQP_URL'],
    ] as const) {
      const child = spawnCli([...args], env);
      expect(await child.exited, name).to.equal(2);
      const out = child.output().trim();
      expect(out.split('\n'), out).to.have.length(1);
      expect(out).to.contain(name);
    }
  });
});
