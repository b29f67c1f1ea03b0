import { expect } from 'chai';
import { pino } from 'pino';
import { createApp, warmContract } from '../../server/app.js';
import { createServices } from '../../server/services.js';
import type { Contract } from '../../server/validator.js';
import { client } from '../support/http.js';
import { listenLocal, openTestStack, type Listening, type TestStack } from '../support/stack.js';

// The contract compiles lazily (start-up warms it right after listen): probes answer without it,
// API requests wait for it, and once compiled every request goes through it.

describe('api: compiling the contract', () => {
  let stack: TestStack;
  let listening: Listening;
  let base: string;
  let contract: Contract;
  let app: ReturnType<typeof createApp>;

  before(async () => {
    stack = await openTestStack();
    const services = await createServices({
      db: stack.db,
      bus: stack.bus,
      dispatcher: stack.queue,
      simulation: { time_scale: 0, seed: null, failure_rate: 0, operations: {} },
    });
    app = createApp({ services, logger: pino({ level: 'silent' }), validateResponses: true });
    contract = app.locals.contract as Contract;
    listening = await listenLocal(app);
    base = listening.baseUrl;
  });
  after(async () => {
    await listening.close();
    await stack.close();
  });

  it('answers /health and /ready before the contract is compiled, without compiling it', async () => {
    const http = client(base);
    expect((await http.get('/health')).status).to.equal(200);
    const ready = await http.get('/ready');
    expect(ready.status).to.equal(200);
    expect(ready.body.status).to.equal('ready');
    expect(contract.compiled).to.equal(false);
  });

  it('compiles on the first API request, which waits for it, and then validates as before', async () => {
    const http = client(base);
    const sizes = await http.get('/api/v1/sizes');
    expect(sizes.status).to.equal(200);
    expect(contract.compiled).to.equal(true);
    const bad = await http.post('/api/v1/environments', { name: 'x', unknown: 1 });
    expect(bad.status).to.equal(400);
    expect(bad.body.code).to.equal('validation_failed');
    await warmContract(app); // idempotent
    expect((await http.get('/api/v1/nowhere')).status).to.equal(404);
    expect((await http.get('/api/v1/vms/%E0%A4%A')).status).to.equal(400);
  });
});
