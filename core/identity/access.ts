// The access rules of SPEC §10 as pure functions: what a role allows, what a token's scopes grant,
// and whether a caller may run an operation that declares `x-required-scope`. No I/O here, so the
// rules are tested on their own and cost nothing on the hot path.

export const ROLES = ['owner', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
export type AuthMode = 'off' | 'soft' | 'enforce';

export interface Principal {
  kind: 'admin' | 'token' | 'anonymous';
  /** The project the caller acts in. */
  projectId: string;
  tokenId?: string;
  /** null for a project token the deployment admin made (bounded by the owner role). */
  userId?: string | null;
  role?: Role;
  scopes: string[];
  /** Epoch ms after which the token is no longer valid; null for no expiry. */
  expiresMs?: number | null;
}

/** `x-required-scope` values: `none` (any authenticated caller), `admin`, or `<collection>:read|write`. */
export const SCOPE_PATTERN = /^([a-z][a-z0-9-]{0,39}|\*):(read|write)$/;
export const isRequiredScope = (v: unknown): v is string => typeof v === 'string' && (v === 'none' || v === 'admin' || SCOPE_PATTERN.test(v));

// Owners alone manage members and read the project's audit trail; everything else splits by action.
const OWNER_ONLY = new Set(['members:write', 'audit:read']);

export function roleAllows(role: Role | undefined, scope: string): boolean {
  if (!role) return false;
  if (role === 'owner') return true;
  if (OWNER_ONLY.has(scope)) return false;
  const action = scope.slice(scope.indexOf(':') + 1);
  return role === 'editor' || action === 'read';
}

/** Whether a token's scopes grant `scope`; `x:write` includes `x:read`, `*:a` every collection. */
export function scopesGrant(scopes: readonly string[], scope: string): boolean {
  const [collection, action] = scope.split(':') as [string, string];
  for (const s of scopes) {
    const [c, a] = s.split(':');
    if ((c === collection || c === '*') && (a === action || a === 'write')) return true;
  }
  return false;
}

export const actorOf = (p: Principal | undefined): string =>
  !p || p.kind === 'anonymous' ? 'anonymous' : p.kind === 'admin' ? 'admin' : (p.userId ?? p.tokenId ?? 'token');

export type Decision =
  | { ok: true }
  | { ok: false; code: 'unauthorized'; reason: string }
  | { ok: false; code: 'forbidden'; reason: string; missing: string[] };

/** May `p` run an operation that requires `required`? (`public` operations never get here.) */
export function decide(required: string, p: Principal | undefined): Decision {
  if (!p || p.kind === 'anonymous') return { ok: false, code: 'unauthorized', reason: 'a bearer token is required' };
  if (p.kind === 'admin' || required === 'none') return { ok: true };
  if (required === 'admin') return { ok: false, code: 'forbidden', reason: 'only the deployment admin may do this', missing: ['admin'] };
  if (!scopesGrant(p.scopes, required)) return { ok: false, code: 'forbidden', reason: `the token lacks the scope ${required}`, missing: [required] };
  if (!roleAllows(p.role, required)) return { ok: false, code: 'forbidden', reason: `the role ${p.role ?? 'none'} does not allow ${required}`, missing: [required] };
  return { ok: true };
}

/** A token never exceeds its creator: every requested scope must be granted to the creator and allowed by the role it will carry. */
export function exceedingScopes(requested: readonly string[], creator: Principal, role: Role): string[] {
  return requested.filter((s) => {
    const [c, a] = s.split(':') as [string, string];
    const probe = c === '*' ? `*:${a}` : s;
    const roleOk = c === '*' ? a === 'read' || role !== 'viewer' : roleAllows(role, s);
    const creatorOk = creator.kind === 'admin' || (scopesGrant(creator.scopes, probe) && (c === '*' ? a === 'read' || creator.role !== 'viewer' : roleAllows(creator.role, s)));
    return !(roleOk && creatorOk);
  });
}
