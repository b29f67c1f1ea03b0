import { expect } from 'chai';
import { EnvironmentProvider, SecurityGroupProvider, VmProvider, VolumeAttachmentProvider, VolumeProvider } from '../../examples/pulumi/providers/index.js';
import { client, uniq, type Client } from '../support/http.js';
import { startTestApi, type TestApi } from '../support/stack.js';
import { startDroppingProxy } from './support/dropping-proxy.js';
import { driveLifecycle, serializeProvider } from './support/pulumi-engine.js';
import type * as pulumi from '@pulumi/pulumi';

type Provider = pulumi.dynamic.ResourceProvider;
/** The engine hands providers untyped property bags; so do these tests. */
const untyped = (p: object): Provider => p as Provider;

describe('Pulumi dynamic providers (driven as the engine drives them)', function () {
  this.timeout(60_000);
  let api: TestApi;
  let http: Client;
  const savedEnv = { ...process.env };
  const disposers: (() => void)[] = [];

  before(async () => {
    api = await startTestApi({ timeScale: 0.01 });
    http = client(api.baseUrl);
    process.env.MOCKCLOUD_ENDPOINT = api.baseUrl;
    process.env.MOCKCLOUD_WAIT_TIMEOUT = '30';
    delete process.env.MOCKCLOUD_TOKEN;
  });

  after(async () => {
    process.env = savedEnv;
    for (const d of disposers) d();
    await api?.close();
  });

  const newEnvironment = async (prefix = 'pulumi') => {
    const r = await http.post('/api/v1/environments', { name: uniq(prefix), cidr: '10.40.0.0/24' });
    expect(r.status).to.equal(201);
    return r.body.id as string;
  };
  const newRunningVm = async (environmentId: string) => {
    const created = await untyped(new VmProvider()).create({ name: uniq('vm'), environmentId, size: 'small', image: 'debian-12' });
    return created.id;
  };

  const forms: { name: string; load: (p: Provider) => Promise<Provider> }[] = [
    { name: 'as written', load: async (p) => p },
    {
      name: 'through serializeFunction, as the provider host loads it',
      load: async (p) => {
        const s = await serializeProvider(p);
        disposers.push(s.dispose);
        return s.load();
      },
    },
  ];

  for (const form of forms) {
    describe(form.name, () => {
      it('takes an environment through check → create → read → diff → update → read → delete → read', async () => {
        const name = uniq('env');
        await driveLifecycle({
          provider: await form.load(untyped(new EnvironmentProvider())),
          inputs: { name, tags: { team: 'a' } },
          mutable: { name: `${name}-renamed`, tags: { team: 'b' } },
          immutable: { change: { cidr: '10.1.0.0/16' }, replaces: 'cidr' },
          afterCreate: (_id, outs) => {
            expect(outs.cidr, 'check applied the default CIDR').to.equal('10.0.0.0/16');
          },
          afterUpdate: (_id, outs) => {
            expect(outs).to.include({ name: `${name}-renamed` });
            expect(outs.tags).to.deep.equal({ team: 'b' });
          },
        });
      });

      it('takes a security group through the lifecycle, keeping rule order and replacing on a new environment', async () => {
        const environmentId = await newEnvironment();
        const rules = [
          { direction: 'ingress', protocol: 'tcp', portFrom: 443, portTo: 443, cidr: '0.0.0.0/0' },
          { direction: 'egress', protocol: 'all', cidr: '0.0.0.0/0' },
        ];
        await driveLifecycle({
          provider: await form.load(untyped(new SecurityGroupProvider())),
          inputs: { name: uniq('sg'), environmentId, description: 'web', rules },
          mutable: { rules: [rules[1], rules[0]], description: 'web and out' },
          immutable: { change: { environmentId: 'env-other' }, replaces: 'environmentId' },
          afterCreate: (_id, outs) => {
            expect(outs.rules).to.deep.equal(rules);
          },
          afterUpdate: (_id, outs) => {
            expect(outs.rules).to.deep.equal([rules[1], rules[0]]);
          },
        });
      });

      it('takes a VM through the lifecycle, resizing it by stop → patch → start', async () => {
        const environmentId = await newEnvironment();
        await driveLifecycle({
          provider: await form.load(untyped(new VmProvider())),
          inputs: { name: uniq('vm'), environmentId, size: 'small', image: 'ubuntu-24.04' },
          mutable: { size: 'medium', tags: { role: 'app' } },
          immutable: { change: { image: 'debian-12' }, replaces: 'image' },
          afterCreate: (_id, outs) => {
            expect(outs.status, 'create waited for running').to.equal('running');
            expect(outs.privateIp).to.match(/^10\.40\.0\.\d+$/);
          },
          afterUpdate: (_id, outs) => {
            expect(outs).to.include({ size: 'medium', status: 'running' });
          },
        });
      });

      it('takes a volume through the lifecycle, growing it in place', async () => {
        const environmentId = await newEnvironment();
        await driveLifecycle({
          provider: await form.load(untyped(new VolumeProvider())),
          inputs: { name: uniq('vol'), environmentId, sizeGb: 10 },
          mutable: { sizeGb: 20 },
          immutable: { change: { type: 'ssd' }, replaces: 'type' },
          afterCreate: (_id, outs) => {
            expect(outs).to.include({ status: 'available', type: 'standard', sizeGb: 10 });
          },
          afterUpdate: (_id, outs) => {
            expect(outs).to.include({ sizeGb: 20 });
          },
        });
      });

      it('attaches a volume to a running VM and detaches it on delete', async () => {
        const environmentId = await newEnvironment();
        const vmId = await newRunningVm(environmentId);
        const volumes = await form.load(untyped(new VolumeProvider()));
        const other = (await volumes.create({ name: uniq('vol'), environmentId, sizeGb: 5, type: 'standard' })).id;
        const volumeId = (await volumes.create({ name: uniq('vol'), environmentId, sizeGb: 5, type: 'standard' })).id;
        const attachments = await form.load(untyped(new VolumeAttachmentProvider()));

        const checked = await attachments.check!({}, { volumeId, vmId });
        expect(checked.failures).to.deep.equal([]);
        const created = await attachments.create(checked.inputs);
        expect(created.outs).to.deep.equal({ volumeId, vmId, device: '/dev/vdb' });
        expect((await http.get(`/api/v1/vms/${vmId}`)).body.attached_volume_ids).to.deep.equal([volumeId]);
        expect(await attachments.read!(created.id, created.outs)).to.deep.equal({ id: created.id, props: created.outs });
        expect(await attachments.diff!(created.id, created.outs, { volumeId, vmId })).to.include({ changes: false });
        const moved = await attachments.diff!(created.id, created.outs, { volumeId: other, vmId });
        expect(moved).to.deep.equal({ changes: true, replaces: ['volumeId'], deleteBeforeReplace: true });

        await attachments.delete!(created.id, created.outs);
        const volume = (await http.get(`/api/v1/volumes/${volumeId}`)).body;
        expect(volume).to.include({ status: 'available', attachment: null });
        expect(await attachments.read!(created.id, created.outs)).to.deep.equal({});
      });

      it('reports a create forced to fail as a rejected promise with the error code, and leaves no VM behind', async () => {
        const environmentId = await newEnvironment();
        const name = uniq('doomed');
        const vms = await form.load(untyped(new VmProvider()));
        const err = await vms.create({ name, environmentId, size: 'small', image: 'ubuntu-24.04', tags: { 'mockcloud:outcome': 'fail' } }).then(
          () => expect.fail('create should have failed'),
          (e: Error & { code?: string }) => e,
        );
        expect(err.code).to.equal('provisioning_failed');
        expect(err.message).to.contain('provisioning_failed').and.contain(name);
        const left = await http.get(`/api/v1/vms?name=${name}&environment_id=${environmentId}`);
        expect(left.body.items, 'the failed VM was deleted').to.deep.equal([]);
      });
    });
  }

  it('reports a failed volume create the same way and removes the volume', async () => {
    const environmentId = await newEnvironment();
    const name = uniq('doomed');
    const err = await untyped(new VolumeProvider())
      .create({ name, environmentId, sizeGb: 1, tags: { 'mockcloud:outcome': 'fail' } })
      .then(() => expect.fail('create should have failed'), (e: Error & { code?: string }) => e);
    expect(err.code).to.equal('provisioning_failed');
    expect((await http.get(`/api/v1/volumes?name=${name}&environment_id=${environmentId}`)).body.items).to.deep.equal([]);
  });

  it('check applies defaults and reports invalid inputs by property, without calling the API', async () => {
    process.env.MOCKCLOUD_ENDPOINT = 'http://127.0.0.1:9'; // nothing listens: check must stay offline
    try {
      const env = await untyped(new EnvironmentProvider()).check!({}, { name: 'net' });
      expect(env).to.deep.equal({ inputs: { name: 'net', cidr: '10.0.0.0/16', tags: {} }, failures: [] });
      const bad = await untyped(new VmProvider()).check!({}, { name: '-bad', environmentId: 'nope', size: 'huge', image: 'ubuntu-24.04' });
      expect(bad.failures!.map((f) => f.property)).to.have.members(['name', 'environmentId', 'size']);
      const shrink = await untyped(new VolumeProvider()).check!({ name: 'v', environmentId: 'env-1', sizeGb: 20 }, { name: 'v', environmentId: 'env-1', sizeGb: 10 });
      expect(shrink.failures).to.deep.equal([{ property: 'sizeGb', reason: 'volumes can grow but not shrink (now 20 GB)' }]);
      const rules = await untyped(new SecurityGroupProvider()).check!({}, {
        name: 'sg',
        environmentId: 'env-1',
        rules: [{ direction: 'ingress', protocol: 'tcp', portFrom: 90, portTo: 80, cidr: '10.0.0.0/33' }],
      });
      expect(rules.failures!.map((f) => f.property)).to.have.members(['rules[0].cidr', 'rules[0].portFrom']);
      // Outputs not known during a preview are not judged.
      const unknown = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
      const preview = await untyped(new VmProvider()).check!({}, { name: 'a', environmentId: unknown, size: 'small', image: 'debian-12', securityGroupIds: [unknown] });
      expect(preview.failures).to.deep.equal([]);
    } finally {
      process.env.MOCKCLOUD_ENDPOINT = api.baseUrl;
    }
  });

  it('deletes before replacing only when the replacement would take the same name in the same scope', async () => {
    const p = untyped(new VmProvider());
    const olds = { name: 'a', environmentId: 'env-1', size: 'small' as const, image: 'ubuntu-24.04', securityGroupIds: [], tags: {} };
    expect(await p.diff!('vm-1', olds, { ...olds, image: 'debian-12' })).to.deep.equal({ changes: true, replaces: ['image'], deleteBeforeReplace: true });
    expect(await p.diff!('vm-1', olds, { ...olds, image: 'debian-12', name: 'b' })).to.include({ deleteBeforeReplace: false });
    expect(await p.diff!('vm-1', olds, { ...olds, environmentId: 'env-2' })).to.deep.equal({ changes: true, replaces: ['environmentId'], deleteBeforeReplace: false });
    expect(await p.diff!('vm-1', olds, { ...olds, tags: {} })).to.deep.equal({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  it('the serialized provider reads the endpoint when it runs, not when it was serialized', async () => {
    process.env.MOCKCLOUD_ENDPOINT = 'http://127.0.0.1:9';
    const s = await serializeProvider(untyped(new EnvironmentProvider()));
    disposers.push(s.dispose);
    process.env.MOCKCLOUD_ENDPOINT = api.baseUrl;
    expect(s.text).not.to.contain('127.0.0.1');
    for (const provider of [new EnvironmentProvider(), new SecurityGroupProvider(), new VmProvider(), new VolumeProvider(), new VolumeAttachmentProvider()]) {
      const text = (await serializeProvider(untyped(provider))).text;
      // Capturing a module (even @pulumi/pulumi) would ship a require() of it, or a deep copy, into every resource's state.
      expect(text, `${provider.constructor.name} captures no module`).not.to.match(/require\(/);
      expect(text.length, `${provider.constructor.name} serializes small`).to.be.below(50_000);
    }
    const p = s.load();
    const created = await p.create({ name: uniq('late'), cidr: '10.0.0.0/16', tags: {} });
    expect((await http.get(`/api/v1/environments/${created.id}`)).status).to.equal(200);
    await p.delete!(created.id, created.outs);
  });

  it('takes its endpoint from the stack configuration when configure gives one', async () => {
    process.env.MOCKCLOUD_ENDPOINT = 'http://127.0.0.1:9';
    try {
      const s = await serializeProvider(untyped(new EnvironmentProvider()));
      disposers.push(s.dispose);
      const p = s.load();
      const config: Record<string, string> = { 'mockcloud:endpoint': api.baseUrl };
      await p.configure!({ config: { get: (k) => config[k], require: (k) => config[k]! } });
      const created = await p.create({ name: uniq('configured'), cidr: '10.0.0.0/16', tags: {} });
      expect((await http.get(`/api/v1/environments/${created.id}`)).status).to.equal(200);
      await p.delete!(created.id, created.outs);
    } finally {
      process.env.MOCKCLOUD_ENDPOINT = api.baseUrl;
    }
  });

  it('gives up at its own deadline and hands the id back so the engine records the VM', async () => {
    const environmentId = await newEnvironment();
    process.env.MOCKCLOUD_WAIT_TIMEOUT = '0.3';
    let err: Error & { id?: string; code?: string; properties?: any };
    try {
      // 150 s at time scale 0.01: 1.5 seconds, longer than the 0.3 s deadline.
      err = await untyped(new VmProvider())
        .create({ name: uniq('slow'), environmentId, size: 'small', image: 'debian-12', tags: { 'mockcloud:duration': '150' } })
        .then(() => expect.fail('create should have timed out'), (e) => e);
    } finally {
      process.env.MOCKCLOUD_WAIT_TIMEOUT = '30';
    }
    expect(err.code).to.equal('timeout');
    expect(err.id).to.match(/^vm-/);
    expect(err.properties).to.include({ status: 'creating' });
    // The engine would refresh and carry on; here, let it finish and clean up.
    const vms = untyped(new VmProvider());
    await waitUntilSettled(http, `/api/v1/vms/${err.id}`);
    await vms.delete!(err.id!, err.properties);
  });

  it('an idempotent retry of a create after a dropped response returns the same resource', async () => {
    const environmentId = await newEnvironment();
    const proxy = await startDroppingProxy(api.baseUrl, (req, nth) => req.method === 'POST' && req.path === '/api/v1/vms' && nth === 1);
    process.env.MOCKCLOUD_ENDPOINT = proxy.url;
    try {
      const name = uniq('retried');
      const created = await untyped(new VmProvider()).create({ name, environmentId, size: 'small', image: 'debian-12', securityGroupIds: [], tags: {} });
      const posts = proxy.seen.filter((s) => s.method === 'POST' && s.path === '/api/v1/vms');
      expect(posts.map((p) => p.dropped)).to.deep.equal([true, false]);
      expect(posts[0]!.idempotencyKey, 'the create carried an Idempotency-Key').to.be.a('string').and.not.equal('');
      expect(posts[1]!.idempotencyKey, 'the retry reused it').to.equal(posts[0]!.idempotencyKey);
      expect(posts[1]!.status, 'the retry replayed the first answer').to.equal(202);
      expect(created.id).to.equal(posts[0]!.body.id);
      const listed = await http.get(`/api/v1/vms?name=${name}&environment_id=${environmentId}`);
      expect(listed.body.items.map((v: { id: string }) => v.id), 'exactly one VM exists').to.deep.equal([created.id]);
    } finally {
      process.env.MOCKCLOUD_ENDPOINT = api.baseUrl;
      await proxy.close();
    }
  });
});

async function waitUntilSettled(http: Client, path: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await http.get(path);
    if (!['creating', 'deleting'].includes(r.body?.status)) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${path} did not settle`);
}
