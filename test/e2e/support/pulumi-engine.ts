import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';

type Provider = pulumi.dynamic.ResourceProvider;

/**
 * What `new pulumi.dynamic.Resource(provider, …)` stores in the state and the dynamic provider host
 * later runs: `serializeFunction(() => provider)` (as `serializeProvider` in @pulumi/pulumi/dynamic),
 * loaded as a CommonJS module and its `handler()` called (as `getProvider` in
 * cmd/dynamic-provider). Anything a method reaches that the serializer cannot carry — an imported
 * binding, a value captured at module load — fails here the way it would under `pulumi up`.
 */
export async function serializeProvider(provider: Provider): Promise<{ text: string; load: () => Provider; dispose: () => void }> {
  const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  const dir = mkdtempSync(path.join(tmpdir(), 'mockcloud-dynamic-provider-'));
  const file = path.join(dir, 'provider.cjs');
  writeFileSync(file, sf.text);
  const require = createRequire(file);
  return {
    text: sf.text,
    load: () => (require(file) as { handler: () => Provider }).handler(),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface LifecycleCase {
  provider: Provider;
  inputs: Record<string, any>;
  /** A change the provider applies in place (update). */
  mutable: Record<string, any>;
  /** A change that must replace the resource, and the property it names in `replaces`. */
  immutable: { change: Record<string, any>; replaces: string };
  /** Extra checks on the outputs after create and after update. */
  afterCreate?: (id: string, outs: any) => Promise<void> | void;
  afterUpdate?: (id: string, outs: any) => Promise<void> | void;
}

const volatile = ['updatedAt', 'status'];
const stable = (outs: Record<string, unknown>) => Object.fromEntries(Object.entries(outs).filter(([k]) => !volatile.includes(k)));

/**
 * The calls the engine makes for one resource through `pulumi up` (create), `pulumi preview` with
 * edited code (diff), `pulumi up` again (update), `pulumi refresh` (read) and `pulumi destroy`, in
 * that order: check → create → read → diff (no change / mutable / immutable) → update → read →
 * delete → read. Returns the id so callers can assert on the API afterwards.
 */
export async function driveLifecycle(c: LifecycleCase): Promise<string> {
  const p = c.provider;
  const checked = await p.check!({}, c.inputs);
  expect(checked.failures ?? [], 'check failures').to.deep.equal([]);
  const inputs = checked.inputs!;

  const created = await p.create(inputs);
  expect(created.id, 'create returns an id').to.be.a('string').and.not.equal('');
  await c.afterCreate?.(created.id, created.outs);

  const refreshed = await p.read!(created.id, created.outs);
  expect(refreshed.id).to.equal(created.id);
  expect(stable(refreshed.props!), 'read returns what create returned').to.deep.equal(stable(created.outs));

  const unchanged = await p.diff!(created.id, refreshed.props, inputs);
  expect(unchanged.changes, 'no change').to.equal(false);
  expect(unchanged.replaces ?? []).to.deep.equal([]);

  const mutableChecked = await p.check!(inputs, { ...c.inputs, ...c.mutable });
  expect(mutableChecked.failures ?? []).to.deep.equal([]);
  const mutableDiff = await p.diff!(created.id, refreshed.props, mutableChecked.inputs);
  expect(mutableDiff.changes, 'a mutable change is a change').to.equal(true);
  expect(mutableDiff.replaces ?? [], 'a mutable change is not a replacement').to.deep.equal([]);

  const immutableChecked = await p.check!(inputs, { ...c.inputs, ...c.immutable.change });
  expect(immutableChecked.failures ?? []).to.deep.equal([]);
  const immutableDiff = await p.diff!(created.id, refreshed.props, immutableChecked.inputs);
  expect(immutableDiff.changes).to.equal(true);
  expect(immutableDiff.replaces, 'an immutable change replaces').to.include(c.immutable.replaces);

  const updated = await p.update!(created.id, refreshed.props, mutableChecked.inputs);
  await c.afterUpdate?.(created.id, updated.outs);
  const reread = await p.read!(created.id, updated.outs);
  expect(stable(reread.props!), 'read after update returns what update returned').to.deep.equal(stable(updated.outs));
  const converged = await p.diff!(created.id, reread.props, mutableChecked.inputs);
  expect(converged.changes, 'after the update the next preview shows no change').to.equal(false);

  await p.delete!(created.id, reread.props);
  const gone = await p.read!(created.id, reread.props);
  expect(gone, 'read of a deleted resource returns {} (the engine drops it from the state)').to.deep.equal({});
  return created.id;
}
