import type { Role } from './access.js';

// Row types of the identity tables and their API shapes (SPEC §10).

export interface ProjectRow {
  id: string;
  name: string;
  created_at: string;
}

export interface UserRow {
  id: string;
  name: string;
  email: string | null;
  created_at: string;
}

export interface MembershipRow {
  project_id: string;
  user_id: string;
  role: Role;
  created_at: string;
  updated_at: string;
}

export interface TokenRow {
  id: string;
  project_id: string;
  user_id: string | null;
  name: string;
  scopes: string;
  secret_hash: string;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  expires_ms: number | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AuditRow {
  id: string;
  project_id: string;
  actor: string;
  token_id: string | null;
  operation_id: string | null;
  method: string;
  path: string;
  resource_id: string | null;
  status: number;
  decision: 'allowed' | 'denied' | 'would_deny';
  reason: string | null;
  request_id: string;
  created_at: string;
}

export const serializeProject = (r: ProjectRow) => ({ id: r.id, name: r.name, created_at: r.created_at });

export const serializeUser = (r: UserRow) => ({ id: r.id, name: r.name, ...(r.email ? { email: r.email } : {}), created_at: r.created_at });

export const serializeMember = (r: MembershipRow & { user_name: string }) => ({
  user_id: r.user_id,
  user_name: r.user_name,
  role: r.role,
  created_at: r.created_at,
  updated_at: r.updated_at,
});

export const serializeToken = (r: TokenRow) => ({
  id: r.id,
  name: r.name,
  project_id: r.project_id,
  user_id: r.user_id,
  scopes: JSON.parse(r.scopes) as string[],
  created_by: r.created_by,
  created_at: r.created_at,
  expires_at: r.expires_at,
  last_used_at: r.last_used_at,
  revoked_at: r.revoked_at,
});

export const serializeAudit = (r: AuditRow) => ({
  id: r.id,
  project_id: r.project_id,
  actor: r.actor,
  token_id: r.token_id,
  operation_id: r.operation_id,
  method: r.method,
  path: r.path,
  resource_id: r.resource_id,
  status: r.status,
  decision: r.decision,
  reason: r.reason,
  request_id: r.request_id,
  at: r.created_at,
});
