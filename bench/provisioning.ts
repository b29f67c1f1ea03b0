import { createTimings, startDeployment, waitFinished, type Mode } from './deploy.js';
import { bounded, client, isMain, log, row, runStandalone, type Row } from './lib.js';

// Provisioning throughput at time scale 0: N VMs from the first POST to the last one `running`
// (the last create operation's finished_at), through the HTTP API with 50 concurrent clients.
// No natural peer exists for this number, so the baseline is the target itself (ratio = measured /
// target, pass at ≥ 1).

export const PROVISIONING_TARGETS: Record<Mode, number> = { embedded: 1000, distributed: 500 };

export async function provisioningRate(mode: Mode, count: number, concurrency = 50): Promise<{ rate: number; postRate: number; failed: number }> {
  const d = await startDeployment(mode, { timeScale: 0 });
  try {
    const api = client(d.api.url, concurrency);
    const env = await api.call<{ id: string }>('POST', '/api/v1/environments', { name: `bench-prov-${mode}`, cidr: '10.0.0.0/16' });
    const t0 = Date.now();
    await bounded(count, concurrency, async (i) => {
      await api.call('POST', '/api/v1/vms', { name: `vm-${i}`, environment_id: env.id, size: 'small', image: 'debian-12' });
    });
    const postSeconds = (Date.now() - t0) / 1000;
    await waitFinished(d.db, count, { stallMs: 30_000 });
    await api.close();
    const ops = await createTimings(d.db);
    const first = Math.min(...ops.map((o) => o.created));
    const last = Math.max(...ops.map((o) => o.finished));
    const seconds = (last - first) / 1000;
    const failed = ops.filter((o) => o.status !== 'succeeded').length;
    log(`provisioning ${mode}: ${count} VMs in ${seconds.toFixed(2)} s (POSTs took ${postSeconds.toFixed(2)} s), ${failed} failed`);
    return { rate: count / seconds, postRate: count / postSeconds, failed };
  } finally {
    await d.stop();
  }
}

export async function benchProvisioning(opts: { count?: number; modes?: Mode[] } = {}): Promise<Row[]> {
  const count = opts.count ?? 5000;
  const rows: Row[] = [];
  for (const mode of opts.modes ?? (['embedded', 'distributed'] as Mode[])) {
    const target = PROVISIONING_TARGETS[mode];
    const r = await provisioningRate(mode, count);
    rows.push(
      row({
        name: `provisioning ${mode === 'embedded' ? 'embedded (up)' : 'distributed (1 server + 1 worker)'}: ${count} VMs → running, time scale 0`,
        value: r.rate,
        unit: 'VMs/s',
        baseline: target,
        baselineName: 'the target; no peer',
        target: 1,
        bound: 'min',
      }),
    );
  }
  return rows;
}

if (isMain(import.meta.url)) {
  const modes = process.argv.slice(2).filter((a): a is Mode => a === 'embedded' || a === 'distributed');
  await runStandalone(() => benchProvisioning({ modes: modes.length ? modes : undefined }));
}
