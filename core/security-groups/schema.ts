import type { Rule, SecurityGroup } from '../api.js';

export type { Rule, SecurityGroup };

export interface SecurityGroupRow {
  id: string;
  project_id: string;
  environment_id: string;
  name: string;
  description: string | null;
  rules: string;
  tags: string;
  created_at: string;
  updated_at: string;
}

export const serializeSecurityGroup = (r: SecurityGroupRow): SecurityGroup => ({
  id: r.id,
  name: r.name,
  environment_id: r.environment_id,
  description: r.description ?? '',
  rules: JSON.parse(r.rules) as Rule[],
  tags: JSON.parse(r.tags) as Record<string, string>,
  created_at: r.created_at,
  updated_at: r.updated_at,
});

export type { SecurityGroupCreate as CreateSecurityGroup, SecurityGroupPatch as PatchSecurityGroup } from '../api.js';
