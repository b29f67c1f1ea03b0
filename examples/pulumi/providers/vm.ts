import * as pulumi from '@pulumi/pulumi';
import {
  connect,
  deleteAndWait,
  partialState,
  diffInputs,
  fetchResource,
  newIdempotencyKey,
  request,
  settingsFrom,
  tagsPatch,
  validate,
  waitForStatus,
  sameValue,
  type Connection,
  type ProviderSettings,
} from './api.js';

export type VmSize = 'small' | 'medium' | 'large' | 'xlarge';

export interface VmInputs {
  name: string;
  /** Changing it replaces the VM. */
  environmentId: string;
  /** Changing it stops the VM, resizes it and starts it again. */
  size: VmSize;
  /** Catalogue image, e.g. ubuntu-24.04. Changing it replaces the VM. */
  image: string;
  securityGroupIds?: string[];
  /** `mockcloud:outcome` and `mockcloud:duration` steer the simulation for this VM. */
  tags?: Record<string, string>;
}

export interface VmOutputs extends VmInputs {
  securityGroupIds: string[];
  tags: Record<string, string>;
  privateIp: string;
  status: string;
  attachedVolumeIds: string[];
  createdAt: string;
  updatedAt: string;
}

const SIZES = ['small', 'medium', 'large', 'xlarge'];

const toOutputs = (vm: any): VmOutputs => ({
  name: vm.name,
  environmentId: vm.environment_id,
  size: vm.size,
  image: vm.image,
  securityGroupIds: vm.security_group_ids,
  tags: vm.tags,
  privateIp: vm.private_ip,
  status: vm.status,
  attachedVolumeIds: vm.attached_volume_ids,
  createdAt: vm.created_at,
  updatedAt: vm.updated_at,
});

const vmPath = (id: string) => `/api/v1/vms/${encodeURIComponent(id)}`;

/** POST start/stop and wait for the state it leads to. */
async function vmAction(conn: Connection, id: string, verb: 'start' | 'stop', until: string): Promise<any> {
  await request(conn, 'POST', `${vmPath(id)}/${verb}`, { idempotencyKey: newIdempotencyKey(), expect: [202] });
  return waitForStatus(conn, vmPath(id), { until: [until], what: `VM ${id} to be ${until}` });
}

/**
 * VMs are asynchronous: create answers 202 in `creating`, and the provider waits (up to the wait
 * timeout) for `running`. A VM that lands in `error` is deleted before the error is reported, so a
 * failed `pulumi up` leaves nothing behind to collide with the next attempt's name.
 */
export class VmProvider implements pulumi.dynamic.ResourceProvider<VmInputs, VmOutputs> {
  private settings?: ProviderSettings;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.settings = settingsFrom(req.config);
  }

  async check(_olds: VmInputs, news: VmInputs): Promise<pulumi.dynamic.CheckResult<VmInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const inputs = { ...news, securityGroupIds: news.securityGroupIds ?? [], tags: news.tags ?? {} };
    validate.name(failures, inputs.name);
    validate.id(failures, 'environmentId', inputs.environmentId, 'env-');
    validate.oneOf(failures, 'size', inputs.size, SIZES);
    if (validate.known(inputs.image) && (typeof inputs.image !== 'string' || inputs.image.length === 0)) failures.push({ property: 'image', reason: 'must name a catalogue image, e.g. ubuntu-24.04' });
    if (validate.known(inputs.securityGroupIds)) {
      if (!Array.isArray(inputs.securityGroupIds) || inputs.securityGroupIds.length > 16) failures.push({ property: 'securityGroupIds', reason: 'must be a list of at most 16 ids' });
      else inputs.securityGroupIds.forEach((sg, i) => validate.id(failures, `securityGroupIds[${i}]`, sg, 'sg-'));
    }
    validate.tags(failures, inputs.tags);
    return { inputs, failures };
  }

  async diff(_id: string, olds: VmOutputs, news: VmInputs): Promise<pulumi.dynamic.DiffResult> {
    return diffInputs(olds, news, {
      fields: ['name', 'environmentId', 'size', 'image', 'securityGroupIds', 'tags'],
      immutable: ['environmentId', 'image'],
      scope: 'environmentId',
    });
  }

  async create(inputs: VmInputs): Promise<pulumi.dynamic.CreateResult<VmOutputs>> {
    const conn = connect(this.settings);
    const r = await request(conn, 'POST', '/api/v1/vms', {
      body: {
        name: inputs.name,
        environment_id: inputs.environmentId,
        size: inputs.size,
        image: inputs.image,
        security_group_ids: inputs.securityGroupIds ?? [],
        tags: inputs.tags ?? {},
      },
      idempotencyKey: newIdempotencyKey(),
      expect: [202],
    });
    const id: string = r.body.id;
    try {
      const vm = await waitForStatus(conn, vmPath(id), { until: ['running'], what: `VM ${inputs.name} (${id}) to be running` });
      return { id, outs: toOutputs(vm) };
    } catch (err) {
      const e = err as Error & { code?: string; resource?: any };
      if (e.resource?.status === 'error') {
        // Failed provisioning: remove the VM so that nothing is orphaned and a retry can reuse the name.
        await deleteAndWait(conn, vmPath(id), `failed VM ${id}`).catch((cleanup: Error) => {
          e.message += ` (and removing the failed VM failed too: ${cleanup.message})`;
        });
        throw e;
      }
      if (e.resource) {
        // Still provisioning when our deadline passed: hand the id back so Pulumi records the VM
        // (as a failed initialisation) instead of forgetting a resource that may still come up.
        throw Object.assign(e, { id, properties: partialState(inputs, toOutputs(e.resource)), reasons: [e.message] });
      }
      throw e;
    }
  }

  async read(id: string): Promise<pulumi.dynamic.ReadResult<VmOutputs>> {
    const vm = await fetchResource(connect(this.settings), vmPath(id));
    return vm === undefined ? {} : { id: vm.id, props: toOutputs(vm) };
  }

  async update(id: string, olds: VmOutputs, news: VmInputs): Promise<pulumi.dynamic.UpdateResult<VmOutputs>> {
    const conn = connect(this.settings);
    const patch: Record<string, unknown> = {};
    if (olds.name !== news.name) patch.name = news.name;
    const tags = tagsPatch(olds.tags, news.tags);
    if (Object.keys(tags).length) patch.tags = tags;
    if (!sameValue(olds.securityGroupIds, news.securityGroupIds ?? [])) patch.security_group_ids = news.securityGroupIds ?? [];
    if (Object.keys(patch).length) await this.patch(conn, id, patch);

    if (olds.size !== news.size) {
      // The API resizes only a stopped VM: stop it, resize, and start it again if it was running.
      let vm = await waitForStatus(conn, vmPath(id), { until: ['running', 'stopped'], what: `VM ${id} to settle` });
      const wasRunning = vm.status === 'running';
      if (wasRunning) vm = await vmAction(conn, id, 'stop', 'stopped');
      await this.patch(conn, id, { size: news.size });
      if (wasRunning) await vmAction(conn, id, 'start', 'running');
    }
    const vm = await fetchResource(conn, vmPath(id));
    if (vm === undefined) throw new Error(`mockcloud: VM ${id} disappeared during the update`);
    return { outs: toOutputs(vm) };
  }

  private async patch(conn: Connection, id: string, patch: Record<string, unknown>): Promise<void> {
    const r = await request(conn, 'PATCH', vmPath(id), {
      body: patch,
      contentType: 'application/merge-patch+json',
      idempotencyKey: newIdempotencyKey(),
      expect: [200, 202],
    });
    if (r.status === 202) await waitForStatus(conn, vmPath(id), { until: ['running', 'stopped'], what: `VM ${id} to finish updating` });
  }

  async delete(id: string): Promise<void> {
    await deleteAndWait(connect(this.settings), vmPath(id), `VM ${id}`);
  }
}

export interface VmArgs {
  name?: pulumi.Input<string>;
  environmentId: pulumi.Input<string>;
  size: pulumi.Input<VmSize>;
  image: pulumi.Input<string>;
  securityGroupIds?: pulumi.Input<pulumi.Input<string>[]>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class Vm extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly environmentId: pulumi.Output<string>;
  declare readonly size: pulumi.Output<VmSize>;
  declare readonly image: pulumi.Output<string>;
  declare readonly privateIp: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  declare readonly attachedVolumeIds: pulumi.Output<string[]>;

  constructor(name: string, args: VmArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new VmProvider(),
      name,
      { ...args, name: args.name ?? name, privateIp: undefined, status: undefined, attachedVolumeIds: undefined, createdAt: undefined, updatedAt: undefined },
      opts,
      'mockcloud',
      'Vm',
    );
  }
}
