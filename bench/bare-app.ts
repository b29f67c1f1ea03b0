import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import express from 'express';

// The baseline of the API benchmark: a bare Express 5 app serving the same JSON from memory, run as
// its own process exactly like the server under test. `node dist/bench/bare-app.js <port>`, the
// sample VM (as mockcloud returned it) in BENCH_SAMPLE_VM, a page of the list (GET /vms?limit=100 as
// mockcloud returned it) in the file BENCH_SAMPLE_PAGE.

type Vm = Record<string, unknown> & { id: string };

const port = Number(process.argv[2] ?? 0);
const sample = JSON.parse(process.env.BENCH_SAMPLE_VM ?? '{"id":"vm-sample"}') as Vm;
const vms = new Map<string, Vm>([[sample.id, sample]]);
const page = process.env.BENCH_SAMPLE_PAGE ? (JSON.parse(fs.readFileSync(process.env.BENCH_SAMPLE_PAGE, 'utf8')) as unknown) : { items: [] };

const app = express();
app.disable('x-powered-by');
app.use(express.json());
app.get('/ready', (_req, res) => {
  res.json({ status: 'ready' });
});
app.get('/api/v1/vms', (_req, res) => {
  res.json(page);
});
app.get('/api/v1/vms/:id', (req, res) => {
  const vm = vms.get(req.params.id);
  if (!vm) {
    res.status(404).json({ title: 'not found' });
    return;
  }
  res.json(vm);
});
app.post('/api/v1/vms', (req, res) => {
  const body = req.body as Record<string, unknown>;
  const now = new Date().toISOString();
  const vm: Vm = { ...sample, ...body, id: `vm-${randomBytes(8).toString('hex')}`, status: 'creating', progress: 0, created_at: now, updated_at: now };
  vms.set(vm.id, vm);
  res.status(202).location(`/api/v1/vms/${vm.id}`).json(vm);
});
app.listen(port, '127.0.0.1');
