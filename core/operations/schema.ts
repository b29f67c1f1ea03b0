import type { Operation } from '../api.js';
import type { Plan } from '../simulation/plan.js';

export type { Operation };

export interface OperationRow {
  id: string;
  project_id: string;
  kind: string;
  resource_type: string;
  resource_id: string;
  environment_id: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  progress: number;
  message: string;
  error_code: string | null;
  error_message: string | null;
  params: string;
  plan: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  started_ms: number | null;
  lease_owner: string | null;
  lease_expires_ms: number | null;
  attempts: number;
  dispatched_ms?: number | null;
}

export interface OperationParams {
  vm_id?: string;
  device?: string;
}

export const planOf = (row: OperationRow): Plan => JSON.parse(row.plan ?? 'null') as Plan;

export const serializeOperation = (r: OperationRow): Operation => ({
  id: r.id,
  kind: r.kind as Operation['kind'],
  resource_id: r.resource_id,
  resource_type: r.resource_type as Operation['resource_type'],
  environment_id: r.environment_id,
  status: r.status,
  done: r.status === 'succeeded' || r.status === 'failed',
  progress: r.progress,
  message: r.message,
  error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
  created_at: r.created_at,
  updated_at: r.updated_at,
  started_at: r.started_at,
  finished_at: r.finished_at,
});

