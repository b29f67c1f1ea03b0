import * as pulumi from '@pulumi/pulumi';
import { connect, fetchResource, newIdempotencyKey, request, settingsFrom, validate, waitForStatus, UNKNOWN, type ProviderSettings } from './api.js';

export interface VolumeAttachmentInputs {
  volumeId: string;
  vmId: string;
}

export interface VolumeAttachmentOutputs extends VolumeAttachmentInputs {
  /** Assigned by the API in order from /dev/vdb. */
  device: string;
}

const volumePath = (id: string) => `/api/v1/volumes/${encodeURIComponent(id)}`;

/** The attachment's id is `<volume id>:<vm id>`: the API has no attachment object of its own. */
const splitId = (id: string): VolumeAttachmentInputs => {
  const [volumeId, vmId] = id.split(':');
  return { volumeId: volumeId ?? '', vmId: vmId ?? '' };
};

/**
 * Attaching a volume to a VM, as a resource of its own so the VM and the volume keep independent
 * lifecycles. Both inputs are immutable; any change detaches first (a volume has one attachment).
 */
export class VolumeAttachmentProvider implements pulumi.dynamic.ResourceProvider<VolumeAttachmentInputs, VolumeAttachmentOutputs> {
  private settings?: ProviderSettings;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.settings = settingsFrom(req.config);
  }

  async check(_olds: VolumeAttachmentInputs, news: VolumeAttachmentInputs): Promise<pulumi.dynamic.CheckResult<VolumeAttachmentInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    validate.id(failures, 'volumeId', news.volumeId, 'vol-');
    validate.id(failures, 'vmId', news.vmId, 'vm-');
    return { inputs: news, failures };
  }

  async diff(_id: string, olds: VolumeAttachmentOutputs, news: VolumeAttachmentInputs): Promise<pulumi.dynamic.DiffResult> {
    const replaces = (['volumeId', 'vmId'] as const).filter((f) => news[f] === UNKNOWN || olds[f] !== news[f]);
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: true };
  }

  async create(inputs: VolumeAttachmentInputs): Promise<pulumi.dynamic.CreateResult<VolumeAttachmentOutputs>> {
    const conn = connect(this.settings);
    await request(conn, 'POST', `${volumePath(inputs.volumeId)}/attach/${encodeURIComponent(inputs.vmId)}`, {
      idempotencyKey: newIdempotencyKey(),
      expect: [202],
    });
    const v = await waitForStatus(conn, volumePath(inputs.volumeId), { until: ['in-use', 'available'], what: `volume ${inputs.volumeId} to attach to ${inputs.vmId}` });
    if (v.status !== 'in-use' || v.attachment?.vm_id !== inputs.vmId) {
      throw new Error(`mockcloud: attaching volume ${inputs.volumeId} to VM ${inputs.vmId} did not complete (volume is ${v.status})`);
    }
    return { id: `${inputs.volumeId}:${inputs.vmId}`, outs: { ...inputs, device: v.attachment.device } };
  }

  async read(id: string): Promise<pulumi.dynamic.ReadResult<VolumeAttachmentOutputs>> {
    const { volumeId, vmId } = splitId(id);
    const v = await fetchResource(connect(this.settings), volumePath(volumeId));
    // A detached volume, or one attached elsewhere, means this attachment is gone.
    if (v === undefined || v.attachment?.vm_id !== vmId) return {};
    return { id, props: { volumeId, vmId, device: v.attachment.device } };
  }

  async delete(id: string): Promise<void> {
    const conn = connect(this.settings);
    const { volumeId, vmId } = splitId(id);
    const v = await fetchResource(conn, volumePath(volumeId));
    if (v === undefined || v.attachment?.vm_id !== vmId) return;
    if (v.status === 'in-use') {
      await request(conn, 'POST', `${volumePath(volumeId)}/detach`, { idempotencyKey: newIdempotencyKey(), expect: [202] });
    }
    await waitForStatus(conn, volumePath(volumeId), { until: ['available'], what: `volume ${volumeId} to detach from ${vmId}` });
  }
}

export interface VolumeAttachmentArgs {
  volumeId: pulumi.Input<string>;
  vmId: pulumi.Input<string>;
}

export class VolumeAttachment extends pulumi.dynamic.Resource {
  declare readonly volumeId: pulumi.Output<string>;
  declare readonly vmId: pulumi.Output<string>;
  declare readonly device: pulumi.Output<string>;

  constructor(name: string, args: VolumeAttachmentArgs, opts?: pulumi.CustomResourceOptions) {
    super(new VolumeAttachmentProvider(), name, { ...args, device: undefined }, opts, 'mockcloud', 'VolumeAttachment');
  }
}
