import type { Environment } from '../api.js';

export type { Environment };

export interface EnvironmentRow {
  id: string;
  project_id: string;
  name: string;
  cidr: string;
  status: string;
  tags: string;
  created_at: string;
  updated_at: string;
}


export const serializeEnvironment = (r: EnvironmentRow): Environment => ({
  id: r.id,
  name: r.name,
  cidr: r.cidr,
  status: r.status as 'available',
  tags: JSON.parse(r.tags) as Record<string, string>,
  created_at: r.created_at,
  updated_at: r.updated_at,
});

export type { EnvironmentCreate as CreateEnvironment, EnvironmentPatch as PatchEnvironment } from '../api.js';

export const DEFAULT_CIDR = '10.0.0.0/16';
export const MIN_PREFIX = 16;
export const MAX_PREFIX = 28;
