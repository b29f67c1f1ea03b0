import * as pulumi from '@pulumi/pulumi';
import { connect, deleteAndWait, diffInputs, fetchResource, newIdempotencyKey, request, settingsFrom, tagsPatch, validate, type ProviderSettings } from './api.js';

export interface EnvironmentInputs {
  name: string;
  /** IPv4 CIDR, prefix /16–/28; default 10.0.0.0/16. Changing it replaces the environment. */
  cidr?: string;
  tags?: Record<string, string>;
}

export interface EnvironmentOutputs extends Required<EnvironmentInputs> {
  status: string;
  createdAt: string;
  updatedAt: string;
}

const toOutputs = (e: any): EnvironmentOutputs => ({
  name: e.name,
  cidr: e.cidr,
  tags: e.tags,
  status: e.status,
  createdAt: e.created_at,
  updatedAt: e.updated_at,
});

/** Environments are synchronous: 201 on create, 204 on delete. */
export class EnvironmentProvider implements pulumi.dynamic.ResourceProvider<EnvironmentInputs, EnvironmentOutputs> {
  private settings?: ProviderSettings;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.settings = settingsFrom(req.config);
  }

  async check(_olds: EnvironmentInputs, news: EnvironmentInputs): Promise<pulumi.dynamic.CheckResult<EnvironmentInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const inputs = { ...news, cidr: news.cidr ?? '10.0.0.0/16', tags: news.tags ?? {} };
    validate.name(failures, inputs.name);
    validate.cidr(failures, 'cidr', inputs.cidr, 16, 28);
    validate.tags(failures, inputs.tags);
    return { inputs, failures };
  }

  async diff(_id: string, olds: EnvironmentOutputs, news: EnvironmentInputs): Promise<pulumi.dynamic.DiffResult> {
    return diffInputs(olds, news, { fields: ['name', 'cidr', 'tags'], immutable: ['cidr'] });
  }

  async create(inputs: EnvironmentInputs): Promise<pulumi.dynamic.CreateResult<EnvironmentOutputs>> {
    const conn = connect(this.settings);
    const r = await request(conn, 'POST', '/api/v1/environments', {
      body: { name: inputs.name, cidr: inputs.cidr, tags: inputs.tags },
      idempotencyKey: newIdempotencyKey(),
      expect: [201],
    });
    return { id: r.body.id, outs: toOutputs(r.body) };
  }

  async read(id: string): Promise<pulumi.dynamic.ReadResult<EnvironmentOutputs>> {
    const env = await fetchResource(connect(this.settings), `/api/v1/environments/${encodeURIComponent(id)}`);
    return env === undefined ? {} : { id: env.id, props: toOutputs(env) };
  }

  async update(id: string, olds: EnvironmentOutputs, news: EnvironmentInputs): Promise<pulumi.dynamic.UpdateResult<EnvironmentOutputs>> {
    const conn = connect(this.settings);
    const patch: Record<string, unknown> = {};
    if (olds.name !== news.name) patch.name = news.name;
    const tags = tagsPatch(olds.tags, news.tags);
    if (Object.keys(tags).length) patch.tags = tags;
    const r = await request(conn, 'PATCH', `/api/v1/environments/${encodeURIComponent(id)}`, {
      body: patch,
      contentType: 'application/merge-patch+json',
      idempotencyKey: newIdempotencyKey(),
      expect: [200],
    });
    return { outs: toOutputs(r.body) };
  }

  async delete(id: string): Promise<void> {
    await deleteAndWait(connect(this.settings), `/api/v1/environments/${encodeURIComponent(id)}`, `environment ${id}`);
  }
}

export interface EnvironmentArgs {
  /** Defaults to the Pulumi resource name. */
  name?: pulumi.Input<string>;
  cidr?: pulumi.Input<string>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class Environment extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly cidr: pulumi.Output<string>;
  declare readonly tags: pulumi.Output<Record<string, string>>;
  declare readonly status: pulumi.Output<string>;

  constructor(name: string, args: EnvironmentArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(new EnvironmentProvider(), name, { ...args, name: args.name ?? name, status: undefined, createdAt: undefined, updatedAt: undefined }, opts, 'mockcloud', 'Environment');
  }
}
