import type { Volume } from '../api.js';

export type { Volume };

export interface VolumeRow {
  id: string;
  project_id: string;
  environment_id: string;
  name: string;
  size_gb: number;
  type: string;
  status: string;
  operation_id: string | null;
  error_code: string | null;
  error_message: string | null;
  vm_id: string | null;
  device: string | null;
  tags: string;
  created_at: string;
  updated_at: string;
}

export const serializeVolume = (r: VolumeRow, progress: number): Volume => ({
  id: r.id,
  name: r.name,
  environment_id: r.environment_id,
  size_gb: r.size_gb,
  type: r.type as Volume['type'],
  status: r.status as Volume['status'],
  progress,
  operation_id: r.operation_id,
  error: r.status === 'error' && r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
  attachment: r.vm_id && r.device ? { vm_id: r.vm_id, device: r.device } : null,
  tags: JSON.parse(r.tags) as Record<string, string>,
  created_at: r.created_at,
  updated_at: r.updated_at,
});

// /dev/vda is the boot disk; data volumes take /dev/vdb … /dev/vdq in order, 16 at most.
export const DEVICES = Array.from({ length: 16 }, (_, i) => `/dev/vd${String.fromCharCode('b'.charCodeAt(0) + i)}`);
