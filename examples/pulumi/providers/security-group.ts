import * as pulumi from '@pulumi/pulumi';
import { connect, deleteAndWait, diffInputs, fetchResource, newIdempotencyKey, request, settingsFrom, tagsPatch, validate, UNKNOWN, type ProviderSettings } from './api.js';

export interface Rule {
  direction: 'ingress' | 'egress';
  protocol: 'tcp' | 'udp' | 'icmp' | 'all';
  portFrom?: number;
  portTo?: number;
  cidr: string;
}

export interface SecurityGroupInputs {
  name: string;
  /** Changing it replaces the group. */
  environmentId: string;
  description?: string;
  /** Kept in the order given. */
  rules?: Rule[];
  tags?: Record<string, string>;
}

export interface SecurityGroupOutputs extends SecurityGroupInputs {
  rules: Rule[];
  tags: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

const ruleToApi = (r: Rule) => ({ direction: r.direction, protocol: r.protocol, port_from: r.portFrom, port_to: r.portTo, cidr: r.cidr });
const ruleFromApi = (r: any): Rule => {
  const rule: Rule = { direction: r.direction, protocol: r.protocol, cidr: r.cidr };
  if (r.port_from !== undefined) rule.portFrom = r.port_from;
  if (r.port_to !== undefined) rule.portTo = r.port_to;
  return rule;
};

const toOutputs = (sg: any): SecurityGroupOutputs => {
  const outs: SecurityGroupOutputs = {
    name: sg.name,
    environmentId: sg.environment_id,
    rules: sg.rules.map(ruleFromApi),
    tags: sg.tags,
    createdAt: sg.created_at,
    updatedAt: sg.updated_at,
  };
  if (sg.description !== undefined) outs.description = sg.description;
  return outs;
};

/** Security groups are synchronous: 201 on create, 204 on delete. */
export class SecurityGroupProvider implements pulumi.dynamic.ResourceProvider<SecurityGroupInputs, SecurityGroupOutputs> {
  private settings?: ProviderSettings;

  async configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
    this.settings = settingsFrom(req.config);
  }

  async check(_olds: SecurityGroupInputs, news: SecurityGroupInputs): Promise<pulumi.dynamic.CheckResult<SecurityGroupInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const inputs = { ...news, description: news.description ?? '', rules: news.rules ?? [], tags: news.tags ?? {} };
    validate.name(failures, inputs.name);
    validate.id(failures, 'environmentId', inputs.environmentId, 'env-');
    validate.tags(failures, inputs.tags);
    if (typeof inputs.description === 'string' && inputs.description.length > 255) failures.push({ property: 'description', reason: 'at most 255 characters' });
    if ((inputs.rules as unknown) !== UNKNOWN) {
      if (!Array.isArray(inputs.rules)) failures.push({ property: 'rules', reason: 'must be a list' });
      else inputs.rules.forEach((r, i) => {
        const at = `rules[${i}]`;
        validate.oneOf(failures, `${at}.direction`, r.direction, ['ingress', 'egress']);
        validate.oneOf(failures, `${at}.protocol`, r.protocol, ['tcp', 'udp', 'icmp', 'all']);
        validate.cidr(failures, `${at}.cidr`, r.cidr);
        for (const p of ['portFrom', 'portTo'] as const) {
          const v = r[p];
          if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 65535)) failures.push({ property: `${at}.${p}`, reason: 'must be a port, 0–65535' });
        }
        if (r.portFrom !== undefined && r.portTo !== undefined && r.portFrom > r.portTo) failures.push({ property: `${at}.portFrom`, reason: 'must be ≤ portTo' });
      });
    }
    return { inputs, failures };
  }

  async diff(_id: string, olds: SecurityGroupOutputs, news: SecurityGroupInputs): Promise<pulumi.dynamic.DiffResult> {
    return diffInputs(olds, news, { fields: ['name', 'environmentId', 'description', 'rules', 'tags'], immutable: ['environmentId'], scope: 'environmentId' });
  }

  async create(inputs: SecurityGroupInputs): Promise<pulumi.dynamic.CreateResult<SecurityGroupOutputs>> {
    const r = await request(connect(this.settings), 'POST', '/api/v1/security-groups', {
      body: {
        name: inputs.name,
        environment_id: inputs.environmentId,
        description: inputs.description,
        rules: (inputs.rules ?? []).map(ruleToApi),
        tags: inputs.tags,
      },
      idempotencyKey: newIdempotencyKey(),
      expect: [201],
    });
    return { id: r.body.id, outs: toOutputs(r.body) };
  }

  async read(id: string): Promise<pulumi.dynamic.ReadResult<SecurityGroupOutputs>> {
    const sg = await fetchResource(connect(this.settings), `/api/v1/security-groups/${encodeURIComponent(id)}`);
    return sg === undefined ? {} : { id: sg.id, props: toOutputs(sg) };
  }

  async update(id: string, olds: SecurityGroupOutputs, news: SecurityGroupInputs): Promise<pulumi.dynamic.UpdateResult<SecurityGroupOutputs>> {
    const patch: Record<string, unknown> = {};
    if (olds.name !== news.name) patch.name = news.name;
    if ((olds.description ?? '') !== (news.description ?? '')) patch.description = news.description ?? '';
    const rules = news.rules ?? [];
    if (JSON.stringify(olds.rules.map(ruleToApi)) !== JSON.stringify(rules.map(ruleToApi))) patch.rules = rules.map(ruleToApi);
    const tags = tagsPatch(olds.tags, news.tags);
    if (Object.keys(tags).length) patch.tags = tags;
    const r = await request(connect(this.settings), 'PATCH', `/api/v1/security-groups/${encodeURIComponent(id)}`, {
      body: patch,
      contentType: 'application/merge-patch+json',
      idempotencyKey: newIdempotencyKey(),
      expect: [200],
    });
    return { outs: toOutputs(r.body) };
  }

  async delete(id: string): Promise<void> {
    await deleteAndWait(connect(this.settings), `/api/v1/security-groups/${encodeURIComponent(id)}`, `security group ${id}`);
  }
}

export interface SecurityGroupArgs {
  name?: pulumi.Input<string>;
  environmentId: pulumi.Input<string>;
  description?: pulumi.Input<string>;
  rules?: pulumi.Input<pulumi.Input<Rule>[]>;
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class SecurityGroup extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly environmentId: pulumi.Output<string>;
  declare readonly rules: pulumi.Output<Rule[]>;
  declare readonly tags: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: SecurityGroupArgs, opts?: pulumi.CustomResourceOptions) {
    super(new SecurityGroupProvider(), name, { ...args, name: args.name ?? name, createdAt: undefined, updatedAt: undefined }, opts, 'mockcloud', 'SecurityGroup');
  }
}
