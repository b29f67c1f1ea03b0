import autocannon, { type AutocannonRequest } from 'autocannon';
import { bounded, client, isMain, log, nowMs, row, runStandalone, startMockcloud, type Row } from './lib.js';

// Emulator control costs (SPEC §11):
// - chaos-rule lookup on the hot path: GET /vms/{id} with no rules against the same with N rules
//   that match other operations (so every request checks them and none fires);
// - reset of a state with thousands of resources, against the "well under a second" target.

export async function benchEmulator(opts: { rules?: number; resources?: number; seconds?: number; rounds?: number } = {}): Promise<Row[]> {
  const rules = opts.rules ?? 50;
  const resources = opts.resources ?? 3000;
  const seconds = opts.seconds ?? 5;
  const rounds = opts.rounds ?? 2;
  const mc = await startMockcloud('up', ['--memory', '--time-scale', '0', '--failure-rate', '0']);
  try {
    const api = client(mc.url, 8);
    const env = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: 'bench-emu', cidr: '10.0.0.0/16' });
    const vm = await api.call<{ id: string }>('POST', '/api/v1/vms', { name: 'sample', environment_id: env.id, size: 'small', image: 'debian-12' });
    const get: AutocannonRequest[] = [{ method: 'GET', path: `/api/v1/vms/${vm.id}` }];
    const run = async (duration = seconds) => {
      const r = await autocannon({ url: mc.url, connections: 50, duration, requests: get, timeout: 30 });
      return r['2xx'] / r.duration;
    };
    const ruleIds: string[] = [];
    const addRules = async () => {
      for (let i = 0; i < rules; i++) {
        ruleIds.push((await api.call<{ id: string }>('POST', '/api/v1/admin/chaos/rules', { match: { operation_id: 'listImages', environment_id: `env-${i}` }, effect: { latency_ms: 1 } })).id);
      }
    };
    const clearRules = async () => {
      await fetch(`${mc.url}/api/v1/admin/chaos/rules`, { method: 'DELETE' });
      ruleIds.length = 0;
    };
    await run(2); // warm-up
    let none = 0;
    let withRules = 0;
    for (let i = 0; i < rounds; i++) {
      log(`emulator: chaos round ${i + 1}/${rounds}`);
      none += await run();
      await addRules();
      withRules += await run();
      await clearRules();
    }

    log(`emulator: creating ${resources} resources`);
    await bounded(resources, 16, async (i) => {
      await api.call('POST', '/api/v1/vms', { name: `r-${i}`, environment_id: env.id, size: 'small', image: 'debian-12', tags: { n: String(i) } });
    });
    await new Promise((r) => setTimeout(r, 1000)); // let time scale 0 finish them
    const t0 = nowMs();
    await api.call('POST', '/api/v1/admin/reset', {});
    const resetMs = nowMs() - t0;
    await api.close();
    return [
      row({ name: `API GET /vms/{id} with ${rules} chaos rules (none firing)`, value: withRules / rounds, unit: 'req/s', baseline: none / rounds, baselineName: 'no chaos rules', target: 0.9, bound: 'min' }),
      row({ name: `POST /admin/reset with ${resources + 2} resources`, value: resetMs, unit: 'ms', baseline: 1000, baselineName: 'target 1 s', target: 0.5, bound: 'max' }),
    ];
  } finally {
    await mc.stop();
  }
}

if (isMain(import.meta.url)) await runStandalone(() => benchEmulator());
