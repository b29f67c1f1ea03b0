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
  type ProviderSettings,
} from './api.js';

export interface VolumeInputs {
  name: string;
  /** Changing it replaces the volume. */
  environmentId: string;
  /** 1–16384; may grow in place, never shrink. */
  sizeGb: number;
  /** `standard` (default) or `ssd`. Changing it replaces the volume. */
  type?: 'standard' | 'ssd';
  tags?: Record<string, string>;
}

export interface VolumeOutputs extends VolumeInputs {
  type: 'standard' | 'ssd';
  tags: Record<string, string>;
  status: string;
  attachment: { vmId: string; device: string } | null;
  createdAt: string;
  updatedAt: string;
}

const toOutputs = (v: any): VolumeOutputs => ({
  name: v.name,
  environmentId: v.environment_id,
  sizeGb: v.size_gb,
  type: v.type,
  tags: v.tags,
  status: v.status,
  attachment: v.attachment ? { vmId: v.attachment.vm_id, device: v.attachment.device } : null,
  createdAt: v.created_at,
  updatedAt: v.updated_at,
});

const volumePath = (id: string) => `/api/v1/volumes/${encodeURIComponent(id)}`;

/** Volumes are asynchronous like VMs; a failed create is cleaned up before the error is reported. */
export class VolumeProvider implements pulumi.dynamic.ResourceProvider<VolumeInputs, VolumeOutputs> {
  private settings?: ProviderSettings;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.settings = settingsFrom(req.config);
  }

  async check(olds: VolumeInputs, news: VolumeInputs): Promise<pulumi.dynamic.CheckResult<VolumeInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const inputs = { ...news, type: news.type ?? 'standard', tags: news.tags ?? {} };
    validate.name(failures, inputs.name);
    validate.id(failures, 'environmentId', inputs.environmentId, 'env-');
    validate.oneOf(failures, 'type', inputs.type, ['standard', 'ssd']);
    validate.tags(failures, inputs.tags);
    if (validate.known(inputs.sizeGb)) {
      if (!Number.isInteger(inputs.sizeGb) || inputs.sizeGb < 1 || inputs.sizeGb > 16384) failures.push({ property: 'sizeGb', reason: 'must be an integer, 1–16384' });
      // The API refuses to shrink (422 invalid_value); say so at preview time rather than mid-update.
      else if (typeof olds?.sizeGb === 'number' && inputs.sizeGb < olds.sizeGb) failures.push({ property: 'sizeGb', reason: `volumes can grow but not shrink (now ${olds.sizeGb} GB)` });
    }
    return { inputs, failures };
  }

  async diff(_id: string, olds: VolumeOutputs, news: VolumeInputs): Promise<pulumi.dynamic.DiffResult> {
    return diffInputs(olds, news, { fields: ['name', 'environmentId', 'sizeGb', 'type', 'tags'], immutable: ['environmentId', 'type'], scope: 'environmentId' });
  }

  async create(inputs: VolumeInputs): Promise<pulumi.dynamic.CreateResult<VolumeOutputs>> {
    const conn = connect(this.settings);
    const r = await request(conn, 'POST', '/api/v1/volumes', {
      body: { name: inputs.name, environment_id: inputs.environmentId, size_gb: inputs.sizeGb, type: inputs.type ?? 'standard', tags: inputs.tags ?? {} },
      idempotencyKey: newIdempotencyKey(),
      expect: [202],
    });
    const id: string = r.body.id;
    try {
      const v = await waitForStatus(conn, volumePath(id), { until: ['available'], what: `volume ${inputs.name} (${id}) to be available` });
      return { id, outs: toOutputs(v) };
    } catch (err) {
      const e = err as Error & { resource?: any };
      if (e.resource?.status === 'error') {
        await deleteAndWait(conn, volumePath(id), `failed volume ${id}`).catch((cleanup: Error) => {
          e.message += ` (and removing the failed volume failed too: ${cleanup.message})`;
        });
        throw e;
      }
      if (e.resource) throw Object.assign(e, { id, properties: partialState(inputs, toOutputs(e.resource)), reasons: [e.message] });
      throw e;
    }
  }

  async read(id: string): Promise<pulumi.dynamic.ReadResult<VolumeOutputs>> {
    const v = await fetchResource(connect(this.settings), volumePath(id));
    return v === undefined ? {} : { id: v.id, props: toOutputs(v) };
  }

  async update(id: string, olds: VolumeOutputs, news: VolumeInputs): Promise<pulumi.dynamic.UpdateResult<VolumeOutputs>> {
    const conn = connect(this.settings);
    const patch: Record<string, unknown> = {};
    if (olds.name !== news.name) patch.name = news.name;
    if (olds.sizeGb !== news.sizeGb) patch.size_gb = news.sizeGb;
    const tags = tagsPatch(olds.tags, news.tags);
    if (Object.keys(tags).length) patch.tags = tags;
    const r = await request(conn, 'PATCH', volumePath(id), {
      body: patch,
      contentType: 'application/merge-patch+json',
      idempotencyKey: newIdempotencyKey(),
      expect: [200, 202],
    });
    // Growing starts a volume.update operation; wait for the volume to settle again.
    const v = r.status === 202 ? await waitForStatus(conn, volumePath(id), { until: ['available', 'in-use'], what: `volume ${id} to finish resizing` }) : r.body;
    return { outs: toOutputs(v) };
  }

  async delete(id: string): Promise<void> {
    await deleteAndWait(connect(this.settings), volumePath(id), `volume ${id}`);
  }
}

export interface VolumeArgs {
  name?: pulumi.Input<string>;
  environmentId: pulumi.Input<string>;
  sizeGb: pulumi.Input<number>;
  type?: pulumi.Input<'standard' | 'ssd'>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class Volume extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly environmentId: pulumi.Output<string>;
  declare readonly sizeGb: pulumi.Output<number>;
  declare readonly type: pulumi.Output<'standard' | 'ssd'>;
  declare readonly status: pulumi.Output<string>;

  constructor(name: string, args: VolumeArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new VolumeProvider(),
      name,
      { ...args, name: args.name ?? name, status: undefined, attachment: undefined, createdAt: undefined, updatedAt: undefined },
      opts,
      'mockcloud',
      'Volume',
    );
  }
}
