// The example's dynamic providers run inside Pulumi's own provider host (a child process), driven
// over gRPC with the engine's request shapes: see support/pulumi-host.ts. Every resource kind goes
// through preview → create → refresh → update → replace → refresh after an out-of-band delete →
// destroy; creates that fail or outlive their wait are checked as the engine receives them.
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import type * as pulumi from '@pulumi/pulumi';
import { EnvironmentProvider, SecurityGroupProvider, VmProvider, VolumeAttachmentProvider, VolumeProvider } from '../../examples/pulumi/providers/index.js';
import { client, uniq, type Client } from '../support/http.js';
import { startTestApi, type TestApi } from '../support/stack.js';
import { startDroppingProxy } from './support/dropping-proxy.js';
import {
  dynamicType,
  Engine,
  secret,
  serializeProvider,
  startFakeEngine,
  startProviderHost,
  UNKNOWN,
  type Bag,
  type HostError,
  type ProviderHost,
  type StateEntry,
} from './support/pulumi-host.js';

const TOKEN = 'mc-e2e-secret-token';
/** Seconds each provider method may wait for an asynchronous resource (stack config mockcloud:waitTimeout). */
const WAIT_TIMEOUT_S = 3;

const volatile = new Set(['status', 'updatedAt', 'attachedVolumeIds', 'attachment']);
const stable = (outs: Bag) => Object.fromEntries(Object.entries(outs).filter(([k]) => !volatile.has(k)));

describe('Pulumi: the example providers inside Pulumi\'s provider host, over gRPC', function () {
  this.timeout(120_000);
  let api: TestApi;
  let http: Client;
  let fakeEngine: Awaited<ReturnType<typeof startFakeEngine>>;
  let host: ProviderHost;
  let engine: Engine;
  let proxy: Awaited<ReturnType<typeof startDroppingProxy>>;
  let dropNext: ((req: { method: string; path: string }) => boolean) | undefined;
  let configured: Awaited<ReturnType<Engine['configure']>>;
  const providers: Record<string, string> = {};
  let envId: string;
  let otherEnvId: string;

  before(async () => {
    api = await startTestApi({ timeScale: 0.01 });
    http = client(api.baseUrl);
    // Everything the host sends goes through this proxy, which records it and can lose one response.
    proxy = await startDroppingProxy(api.baseUrl, (req) => {
      if (!dropNext?.(req)) return false;
      dropNext = undefined;
      return true;
    });
    fakeEngine = await startFakeEngine();
    // The host inherits no MOCKCLOUD_* variables: endpoint and token must come from Configure.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MOCKCLOUD_')));
    host = await startProviderHost(fakeEngine.address, env);
    engine = new Engine(host);
    expect(await engine.getPluginInfo()).to.equal('3.248.0');
    expect(await engine.handshake(process.cwd(), fakeEngine.address)).to.equal('unimplemented');
    configured = await engine.configure({
      'mockcloud:endpoint': proxy.url,
      'mockcloud:token': secret(TOKEN),
      'mockcloud:waitTimeout': String(WAIT_TIMEOUT_S),
      'mockcloud-example:unrelated': 'other keys of the stack reach the host too',
    });
    for (const [kind, p] of Object.entries({
      Environment: new EnvironmentProvider(),
      SecurityGroup: new SecurityGroupProvider(),
      Vm: new VmProvider(),
      Volume: new VolumeProvider(),
      VolumeAttachment: new VolumeAttachmentProvider(),
    })) {
      providers[kind] = await serializeProvider(p as pulumi.dynamic.ResourceProvider);
    }
    envId = (await http.post('/api/v1/environments', { name: uniq('pulumi'), cidr: '10.40.0.0/24' })).body.id;
    otherEnvId = (await http.post('/api/v1/environments', { name: uniq('pulumi-other'), cidr: '10.41.0.0/24' })).body.id;
  });

  after(async () => {
    await host?.close();
    await fakeEngine?.close();
    await proxy?.close();
    await api?.close();
  });

  /** What the program registers: the args, the name default, and `__provider` (dynamic.Resource). */
  const program = (kind: string, args: Bag): Bag => ({ ...args, __provider: providers[kind] });

  const up = async (kind: string, name: string, args: Bag): Promise<StateEntry> => {
    const checked = await engine.check(dynamicType(kind), name, {}, program(kind, args));
    expect(checked.failures, 'check failures').to.deep.equal([]);
    return engine.create(dynamicType(kind), name, checked.inputs);
  };

  const failureOf = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('the call should have failed'),
      (e: HostError) => e,
    );

  it('configures like the engine: no preview support, so the engine never calls Create during a preview', () => {
    expect(configured).to.deep.equal({ acceptSecrets: false, supportsPreview: false, acceptResources: false });
  });

  interface KindCase {
    kind: string;
    path: string;
    args: () => Promise<Bag>;
    /** The same args with the outputs of other resources still unknown, as during a first preview. */
    previewArgs?: (args: Bag) => Bag;
    created: (outs: Bag) => void;
    mutable?: { change: (args: Bag) => Bag; check: (outs: Bag, api: Bag) => void };
    immutable: { change: (args: Bag) => Promise<Bag>; replaces: string; deleteBeforeReplace: boolean };
    deleteOutOfBand: (id: string) => Promise<void>;
  }

  const runningVm = async () => (await up('Vm', uniq('vm'), { name: uniq('vm'), environmentId: envId, size: 'small', image: 'debian-12' })).id;
  const availableVolume = async () => (await up('Volume', uniq('vol'), { name: uniq('vol'), environmentId: envId, sizeGb: 5 })).id;
  const waitGone = async (path: string) => {
    for (let i = 0; i < 200; i++) {
      if ((await http.get(path)).status === 404) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${path} is still there`);
  };

  const cases: KindCase[] = [
    {
      kind: 'Environment',
      path: '/api/v1/environments',
      args: async () => ({ name: uniq('env'), tags: { team: 'a', old: 'x' } }),
      created: (outs) => expect(outs.cidr, 'check applied the default CIDR').to.equal('10.0.0.0/16'),
      mutable: {
        change: (a) => ({ ...a, tags: { team: 'b' } }),
        check: (outs, body) => {
          expect(outs.tags).to.deep.equal({ team: 'b' });
          expect(body.tags, 'the removed tag is gone on the server').to.deep.equal({ team: 'b' });
        },
      },
      immutable: { change: async (a) => ({ ...a, cidr: '10.1.0.0/16' }), replaces: 'cidr', deleteBeforeReplace: true },
      deleteOutOfBand: async (id) => {
        expect((await http.del(`/api/v1/environments/${id}`)).status).to.equal(204);
      },
    },
    {
      kind: 'SecurityGroup',
      path: '/api/v1/security-groups',
      args: async () => ({
        name: uniq('sg'),
        environmentId: envId,
        description: 'web',
        rules: [
          { direction: 'ingress', protocol: 'tcp', portFrom: 443, portTo: 443, cidr: '0.0.0.0/0' },
          { direction: 'egress', protocol: 'all', cidr: '0.0.0.0/0' },
        ],
      }),
      previewArgs: (a) => ({ ...a, environmentId: UNKNOWN }),
      created: (outs) => expect(outs.rules.map((r: Bag) => r.portFrom ?? null)).to.deep.equal([443, null]),
      mutable: {
        change: (a) => ({ ...a, description: 'web and out', rules: [a.rules[1], a.rules[0]] }),
        check: (outs, body) => {
          expect(outs.description).to.equal('web and out');
          expect(body.rules.map((r: Bag) => r.direction)).to.deep.equal(['egress', 'ingress']);
        },
      },
      immutable: { change: async (a) => ({ ...a, environmentId: otherEnvId }), replaces: 'environmentId', deleteBeforeReplace: false },
      deleteOutOfBand: async (id) => {
        expect((await http.del(`/api/v1/security-groups/${id}`)).status).to.equal(204);
      },
    },
    {
      kind: 'Vm',
      path: '/api/v1/vms',
      args: async () => ({ name: uniq('vm'), environmentId: envId, size: 'small', image: 'ubuntu-24.04', tags: { role: 'app' } }),
      previewArgs: (a) => ({ ...a, environmentId: UNKNOWN }),
      created: (outs) => {
        expect(outs.status, 'create waited for running').to.equal('running');
        expect(outs.privateIp).to.match(/^10\.40\.0\.\d+$/);
      },
      mutable: {
        change: (a) => ({ ...a, size: 'medium', tags: {} }),
        check: (outs, body) => {
          expect(outs).to.include({ size: 'medium', status: 'running' });
          expect(body.tags).to.deep.equal({});
        },
      },
      immutable: { change: async (a) => ({ ...a, image: 'debian-12' }), replaces: 'image', deleteBeforeReplace: true },
      deleteOutOfBand: async (id) => {
        expect((await http.del(`/api/v1/vms/${id}`)).status).to.equal(202);
        await waitGone(`/api/v1/vms/${id}`);
      },
    },
    {
      kind: 'Volume',
      path: '/api/v1/volumes',
      args: async () => ({ name: uniq('vol'), environmentId: envId, sizeGb: 10 }),
      previewArgs: (a) => ({ ...a, environmentId: UNKNOWN }),
      created: (outs) => expect(outs).to.include({ status: 'available', type: 'standard', sizeGb: 10 }),
      mutable: {
        change: (a) => ({ ...a, sizeGb: 20 }),
        check: (outs, body) => {
          expect(outs.sizeGb).to.equal(20);
          expect(body.size_gb).to.equal(20);
        },
      },
      immutable: { change: async (a) => ({ ...a, type: 'ssd' }), replaces: 'type', deleteBeforeReplace: true },
      deleteOutOfBand: async (id) => {
        expect((await http.del(`/api/v1/volumes/${id}`)).status).to.equal(202);
        await waitGone(`/api/v1/volumes/${id}`);
      },
    },
    {
      kind: 'VolumeAttachment',
      path: '/api/v1/volumes',
      args: async () => ({ volumeId: await availableVolume(), vmId: await runningVm() }),
      previewArgs: (a) => ({ ...a, volumeId: UNKNOWN }),
      created: (outs) => expect(outs.device).to.equal('/dev/vdb'),
      immutable: { change: async (a) => ({ ...a, volumeId: await availableVolume() }), replaces: 'volumeId', deleteBeforeReplace: true },
      deleteOutOfBand: async (id) => {
        const volumeId = id.split(':')[0];
        expect((await http.post(`/api/v1/volumes/${volumeId}/detach`)).status).to.equal(202);
        for (let i = 0; i < 200 && (await http.get(`/api/v1/volumes/${volumeId}`)).body.status !== 'available'; i++) await new Promise((r) => setTimeout(r, 50));
      },
    },
  ];

  for (const c of cases) {
    const apiPath = (id: string) => (c.kind === 'VolumeAttachment' ? `${c.path}/${id.split(':')[0]}` : `${c.path}/${id}`);

    it(`${c.kind}: preview, create, refresh, update, replace, refresh after an out-of-band delete, destroy`, async () => {
      const type = dynamicType(c.kind);
      const args = await c.args();
      const name = (args.name as string | undefined) ?? uniq('attach');

      // preview: Check (unknowns allowed) and nothing else, since supportsPreview is false.
      const before = proxy.seen.length;
      const preview = await engine.check(type, name, {}, program(c.kind, c.previewArgs ? c.previewArgs(args) : args));
      expect(preview.failures, 'unknown values are not judged').to.deep.equal([]);
      expect(preview.inputs.__provider, 'check keeps __provider').to.equal(providers[c.kind]);
      expect(proxy.seen.slice(before), 'a preview sends nothing to the API').to.deep.equal([]);

      // create
      let entry = await up(c.kind, name, args);
      expect(entry.id).to.be.a('string').and.not.equal('');
      expect(entry.outputs.__provider, 'the stored outputs carry __provider').to.equal(providers[c.kind]);
      c.created(entry.outputs);
      expect((await http.get(apiPath(entry.id))).status).to.equal(200);

      // refresh: no drift
      const refreshed = (await engine.read(entry))!;
      expect(refreshed.id).to.equal(entry.id);
      expect(stable(refreshed.outputs)).to.deep.equal(stable(entry.outputs));
      entry = refreshed;
      const same = await engine.up(entry, program(c.kind, args));
      expect(same.step, 'an unchanged program is DIFF_NONE').to.equal('same');
      expect(same.diff.changes).to.equal('DIFF_NONE');

      // update
      let current = args;
      if (c.mutable) {
        current = c.mutable.change(args);
        const updated = await engine.up(entry, program(c.kind, current));
        expect(updated.step).to.equal('update');
        expect(updated.diff).to.deep.equal({ changes: 'DIFF_SOME', replaces: [], deleteBeforeReplace: false });
        entry = updated.entry;
        expect(entry.outputs.__provider).to.equal(providers[c.kind]);
        c.mutable.check(entry.outputs, (await http.get(apiPath(entry.id))).body);
        expect((await engine.up((await engine.read(entry))!, program(c.kind, current))).diff.changes, 'converged').to.equal('DIFF_NONE');
      }

      // replace
      const replacement = await c.immutable.change(current);
      const replaced = await engine.up(entry, program(c.kind, replacement));
      expect(replaced.step).to.equal('replace');
      expect(replaced.diff).to.deep.equal({ changes: 'DIFF_SOME', replaces: [c.immutable.replaces], deleteBeforeReplace: c.immutable.deleteBeforeReplace });
      expect(replaced.entry.id).not.to.equal(entry.id);
      if (c.kind !== 'VolumeAttachment') expect((await http.get(apiPath(entry.id))).status, 'the old one is gone').to.equal(404);
      entry = replaced.entry;

      // refresh after an out-of-band delete: an empty id, so the engine drops it from the state
      await c.deleteOutOfBand(entry.id);
      expect(await engine.read(entry), 'Read answers an empty id').to.equal(undefined);

      // destroy (of a fresh one)
      const doomed = await up(c.kind, c.kind === 'VolumeAttachment' ? uniq('attach') : `${name}-2`, c.kind === 'VolumeAttachment' ? await c.args() : { ...args, name: `${name}-2` });
      await engine.delete(doomed);
      if (c.kind === 'VolumeAttachment') expect((await http.get(apiPath(doomed.id))).body).to.include({ status: 'available', attachment: null });
      else expect((await http.get(apiPath(doomed.id))).status).to.equal(404);
      expect(await engine.read(doomed)).to.equal(undefined);
    });
  }

  for (const kind of ['Vm', 'Volume'] as const) {
    it(`${kind}: a create forced to fail reaches the engine as UNKNOWN with the API code, and leaves nothing behind`, async () => {
      const name = uniq('doomed');
      const tags = { 'mockcloud:outcome': 'fail' };
      const args = kind === 'Vm' ? { name, environmentId: envId, size: 'small', image: 'debian-12', tags } : { name, environmentId: envId, sizeGb: 1, tags };
      const err = await failureOf(up(kind, name, args));
      expect(err.grpcCode).to.equal(grpc.status.UNKNOWN);
      expect(err.details).to.contain('provisioning_failed').and.contain(name);
      expect(err.initFailed, 'nothing is left to record').to.equal(undefined);
      expect((await http.get(`/api/v1/${kind === 'Vm' ? 'vms' : 'volumes'}?name=${name}&environment_id=${envId}`)).body.items).to.deep.equal([]);
    });
  }

  for (const kind of ['Vm', 'Volume'] as const) {
    it(`${kind}: a create that outlives its wait is recorded with __provider, so refresh and destroy still work`, async () => {
      const name = uniq('slow');
      // 450 simulated seconds at time scale 0.01: 4.5 s, longer than the 3 s wait.
      const args =
        kind === 'Vm'
          ? { name, environmentId: envId, size: 'small', image: 'debian-12', tags: { 'mockcloud:duration': '450' } }
          : { name, environmentId: envId, sizeGb: 1, tags: { 'mockcloud:duration': '450' } };
      const checked = await engine.check(dynamicType(kind), name, {}, program(kind, args));
      const err = await failureOf(engine.create(dynamicType(kind), name, checked.inputs));
      expect(err.grpcCode).to.equal(grpc.status.UNKNOWN);
      expect(err.details).to.contain('timed out');
      expect(err.initFailed, 'ErrorResourceInitFailed in the status details').to.not.equal(undefined);
      const partial = err.initFailed!;
      expect(partial.id).to.match(kind === 'Vm' ? /^vm-/ : /^vol-/);
      expect(partial.properties).to.include({ status: 'creating', __provider: providers[kind] });

      // The engine stores those properties as the outputs; refresh and destroy load the provider from them.
      const stored: StateEntry = { urn: engine.urn(dynamicType(kind), name), type: dynamicType(kind), id: partial.id, inputs: checked.inputs, outputs: partial.properties };
      const refreshed = (await engine.read(stored))!;
      expect(refreshed.id).to.equal(partial.id);
      expect(refreshed.outputs.__provider).to.equal(providers[kind]);
      // The next `pulumi up` drops the slow-down tag (an update: the plan of the delete that follows
      // is made when it is accepted, without it), then `pulumi destroy`: the delete waits for the
      // create to settle first.
      const updated = await engine.up(refreshed, program(kind, { ...args, tags: {} }));
      expect(updated.step).to.equal('update');
      await engine.delete(updated.entry);
      expect((await http.get(`/api/v1/${kind === 'Vm' ? 'vms' : 'volumes'}/${partial.id}`)).status).to.equal(404);
      expect(host.stderr()).not.to.contain('code must be a string');
    });
  }

  it('sends the token from the secret stack config as a bearer token on every request', async () => {
    const from = proxy.seen.length;
    const entry = await up('Environment', uniq('token'), { name: uniq('token') });
    await engine.read(entry);
    await engine.delete(entry);
    const sent = proxy.seen.slice(from);
    expect(sent.map((r) => r.method)).to.deep.equal(['POST', 'GET', 'DELETE']);
    expect(new Set(sent.map((r) => r.authorization))).to.deep.equal(new Set([`Bearer ${TOKEN}`]));
    expect(new Set(proxy.seen.map((r) => r.authorization)), 'and on everything this host sent before').to.deep.equal(new Set([`Bearer ${TOKEN}`]));
  });

  it('retries a create whose response was lost with the same Idempotency-Key, and gets the same VM', async () => {
    const name = uniq('retried');
    dropNext = (req) => req.method === 'POST' && req.path === '/api/v1/vms';
    const from = proxy.seen.length;
    const entry = await up('Vm', name, { name, environmentId: envId, size: 'small', image: 'debian-12' });
    const posts = proxy.seen.slice(from).filter((s) => s.method === 'POST' && s.path === '/api/v1/vms');
    expect(posts.map((p) => p.dropped)).to.deep.equal([true, false]);
    expect(posts[0]!.idempotencyKey).to.be.a('string').and.not.equal('');
    expect(posts[1]!.idempotencyKey, 'the retry reused the key').to.equal(posts[0]!.idempotencyKey);
    expect(posts[1]!.body.id).to.equal(entry.id);
    const listed = await http.get(`/api/v1/vms?name=${name}&environment_id=${envId}`);
    expect(listed.body.items.map((v: { id: string }) => v.id), 'exactly one VM exists').to.deep.equal([entry.id]);
  });

  it('check reports invalid inputs by property, without calling the API', async () => {
    const from = proxy.seen.length;
    const bad = await engine.check(dynamicType('Vm'), 'bad', {}, program('Vm', { name: '-bad', environmentId: 'nope', size: 'huge', image: 'ubuntu-24.04' }));
    expect(bad.failures.map((f) => f.property)).to.have.members(['name', 'environmentId', 'size']);
    const shrink = await engine.check(
      dynamicType('Volume'),
      'v',
      program('Volume', { name: 'v', environmentId: envId, sizeGb: 20 }),
      program('Volume', { name: 'v', environmentId: envId, sizeGb: 10 }),
    );
    expect(shrink.failures).to.deep.equal([{ property: 'sizeGb', reason: 'volumes can grow but not shrink (now 20 GB)' }]);
    expect(proxy.seen.length).to.equal(from);
  });

  it('without stack config, reads MOCKCLOUD_ENDPOINT and MOCKCLOUD_TOKEN from the host environment when a method runs', async () => {
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MOCKCLOUD_'))), MOCKCLOUD_ENDPOINT: proxy.url, MOCKCLOUD_TOKEN: 'from-env' };
    const second = await startProviderHost(fakeEngine.address, env);
    try {
      const bare = new Engine(second);
      await bare.configure({});
      const from = proxy.seen.length;
      const name = uniq('envtoken');
      const checked = await bare.check(dynamicType('Environment'), name, {}, program('Environment', { name }));
      const created = await bare.create(dynamicType('Environment'), name, checked.inputs);
      await bare.delete(created);
      const sent = proxy.seen.slice(from);
      expect(sent.map((r) => `${r.method} ${r.status}`)).to.deep.equal(['POST 201', 'DELETE 204']);
      expect(sent.map((r) => r.authorization)).to.deep.equal(['Bearer from-env', 'Bearer from-env']);
    } finally {
      await second.close();
    }
  });

  it('the serialized providers capture no module and no endpoint', () => {
    for (const [kind, text] of Object.entries(providers)) {
      expect(text, `${kind} captures no module`).not.to.match(/require\(/);
      expect(text, `${kind} captures no endpoint`).not.to.contain('127.0.0.1');
    }
  });
});
