import type { Vm } from '../api.js';

export type { Vm };

export interface VmRow {
  id: string;
  project_id: string;
  environment_id: string;
  name: string;
  size: string;
  image: string;
  private_ip: string;
  status: string;
  operation_id: string | null;
  error_code: string | null;
  error_message: string | null;
  tags: string;
  created_at: string;
  updated_at: string;
}

/** What a VM's representation needs beyond its row, loaded in batches for lists. */
export interface VmRelations {
  securityGroupIds: string[];
  attachedVolumeIds: string[];
  progress: number;
}

// core/vms/relations.ts vmJsonSqlite writes the same representation in SQL (lists on SQLite): keep
// the two in step; test/api/read-paths.test.ts compares them byte for byte.
export const serializeVm = (r: VmRow, rel: VmRelations): Vm => ({
  id: r.id,
  name: r.name,
  environment_id: r.environment_id,
  size: r.size as Vm['size'],
  image: r.image,
  security_group_ids: rel.securityGroupIds,
  private_ip: r.private_ip,
  status: r.status as Vm['status'],
  progress: rel.progress,
  operation_id: r.operation_id,
  error: r.status === 'error' && r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
  attached_volume_ids: rel.attachedVolumeIds,
  tags: JSON.parse(r.tags) as Record<string, string>,
  created_at: r.created_at,
  updated_at: r.updated_at,
});
