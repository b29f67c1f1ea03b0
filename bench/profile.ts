import fs from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { formatSummary, summarize } from './cpuprofile.js';
import { client, isMain, startMockcloud, tempDir } from './lib.js';

// Where the time goes: runs `mockcloud up --memory` under `node --cpu-prof` through one scenario,
// stops it (the profile is written at exit) and prints the self-time summary.
// `node dist/bench/profile.js get|list|post|start [seconds] [--keep dir]` (list: a page of 100 VMs)

export async function profile(scenario: 'get' | 'list' | 'post' | 'start', seconds = 8, keepDir?: string): Promise<string> {
  const dir = keepDir ?? tempDir('prof');
  fs.mkdirSync(dir, { recursive: true });
  const mc = await startMockcloud('up', ['--memory', '--time-scale', '0', '--failure-rate', '0'], {}, ['--cpu-prof', '--cpu-prof-dir', dir]);
  try {
    if (scenario !== 'start') {
      const api = client(mc.url, 2);
      const env = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: 'prof', cidr: '10.0.0.0/16' });
      const vm = await api.call<{ id: string }>('POST', '/api/v1/vms', { name: 'sample', environment_id: env.id, size: 'small', image: 'debian-12' });
      if (scenario === 'list') for (let i = 1; i < 100; i++) await api.call('POST', '/api/v1/vms', { name: `page-${i}`, environment_id: env.id, size: 'small', image: 'debian-12', tags: { team: 'bench' } });
      await api.close();
      let n = 0;
      await autocannon({
        url: mc.url,
        connections: 50,
        duration: seconds,
        requests:
          scenario === 'get'
            ? [{ method: 'GET', path: `/api/v1/vms/${vm.id}` }]
            : scenario === 'list'
              ? [{ method: 'GET', path: '/api/v1/vms?limit=100' }]
            : [
                {
                  method: 'POST',
                  path: '/api/v1/vms',
                  headers: { 'content-type': 'application/json' },
                  setupRequest: (req) => ({ ...req, body: JSON.stringify({ name: `p-${n++}`, environment_id: env.id, size: 'small', image: 'debian-12' }) }),
                },
              ],
      });
    }
  } finally {
    await mc.stop();
  }
  const file = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f))[0];
  if (!file) throw new Error(`no profile written in ${dir}`);
  return file;
}

if (isMain(import.meta.url)) {
  const scenario = (process.argv[2] ?? 'get') as 'get' | 'list' | 'post' | 'start';
  const keep = process.argv.indexOf('--keep');
  const file = await profile(scenario, Number(process.argv[3] ?? 8) || 8, keep > 0 ? process.argv[keep + 1] : undefined);
  process.stdout.write(`profile: ${file}\n${formatSummary(summarize(file, 30))}\n`);
}
