import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError } from '../core/errors.js';
import { actorOf, decide, isRequiredScope, type AuthMode, type Principal } from '../core/identity/access.js';
import type { AuditLog } from '../core/identity/audit.js';
import type { RateLimiter } from '../core/identity/rate-limit.js';
import type { IdentityService } from '../core/identity/service.js';
import type { Metrics } from '../core/metrics.js';
import { sendProblem } from './problem.js';

// Authentication, rate limiting, authorisation and the audit trail (SPEC §10), in one middleware
// mounted before the body parser, idempotency and the validator: a caller without the right learns
// nothing about its request's validity and cannot replay another caller's idempotent response.
// Which scope an operation needs comes from openapi.yaml (`x-required-scope`), so handlers hold no
// auth code and operations added later are covered (and audited) without touching this file.

export interface SpecOperation {
  operationId: string;
  method: string;
  /** The spec's path template, `/api/v1/vms/{id}`. */
  path: string;
  pattern: RegExp;
  scope: string;
  /** `security: []`: probes that need no token (SPEC §10). */
  public: boolean;
  /** Its response carries a secret: never captured for Idempotency-Key replay. */
  secretResponse: boolean;
}

type SpecDoc = { security?: unknown[]; paths: Record<string, Record<string, unknown>> };
type SpecOp = { operationId?: string; security?: unknown[]; 'x-required-scope'?: unknown; 'x-secret-response'?: unknown };

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

/** Every operation of the spec with its required scope; one without a valid `x-required-scope` stops start-up. */
export function specOperations(spec: unknown): SpecOperation[] {
  const doc = spec as SpecDoc;
  const ops: SpecOperation[] = [];
  const bad: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`);
    for (const [method, raw] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const op = raw as SpecOp;
      if (!op.operationId) continue;
      const scope = op['x-required-scope'];
      if (!isRequiredScope(scope)) {
        bad.push(op.operationId);
        continue;
      }
      const security = op.security ?? doc.security;
      ops.push({ operationId: op.operationId, method: method.toUpperCase(), path, pattern, scope, public: Array.isArray(security) && security.length === 0, secretResponse: op['x-secret-response'] === true });
    }
  }
  if (bad.length) throw new Error(`openapi.yaml operations without a valid x-required-scope (none, admin or <collection>:read|write): ${bad.join(', ')}`);
  return ops;
}

export interface AccessOptions {
  mode: AuthMode;
  identity: IdentityService;
  audit: AuditLog;
  limiter?: RateLimiter;
  logger: Logger;
  metrics?: Metrics;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const BEARER = /^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i;

/**
 * Operations by method and first three path segments (`GET /api/v1/vms`), so a request tries the few
 * templates of its collection instead of every operation's; templates with a parameter among those
 * segments are tried after them.
 */
type OperationIndex = { byPrefix: Map<string, SpecOperation[]>; loose: Map<string, SpecOperation[]> };

const prefixOf = (method: string, path: string) => `${method} ${path.split('/', 4).join('/')}`;

function indexOperations(ops: SpecOperation[]): OperationIndex {
  const index: OperationIndex = { byPrefix: new Map(), loose: new Map() };
  for (const op of ops) {
    const key = prefixOf(op.method, op.path);
    const [map, k] = key.includes('{') ? [index.loose, op.method] : [index.byPrefix, key];
    map.set(k, [...(map.get(k) ?? []), op]);
  }
  return index;
}

function matchOperation(index: OperationIndex, method: string, path: string): { op: SpecOperation; params: Record<string, string> } | undefined {
  for (const candidates of [index.byPrefix.get(prefixOf(method, path)), index.loose.get(method)]) {
    for (const op of candidates ?? []) {
      const m = op.pattern.exec(path);
      if (m) return { op, params: m.groups ?? {} };
    }
  }
  return undefined;
}

export function access(ops: SpecOperation[], o: AccessOptions) {
  const { mode, identity, audit, limiter, logger, metrics } = o;
  const index = indexOperations(ops);
  const policy = limiter ? `"default";q=${limiter.budget.points};w=${limiter.budget.durationS}` : undefined;

  const record = (req: Request, res: Response, principal: Principal | undefined, projectId: string, operationId: string | undefined, resourceId: string | undefined, status: number, decision: 'allowed' | 'denied' | 'would_deny', reason?: string) =>
    audit
      .record({
        project_id: projectId,
        actor: actorOf(principal),
        token_id: principal?.tokenId ?? null,
        operation_id: operationId ?? null,
        method: req.method,
        path: req.path.slice(0, 2000),
        resource_id: resourceId ?? null,
        status,
        decision,
        reason: reason ?? null,
        request_id: String(req.headers['x-request-id']),
      })
      .catch((err: unknown) => logger.error({ err, request_id: req.headers['x-request-id'] }, 'audit record failed'));

  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const requestId = String(req.headers['x-request-id']);
    if (mode === 'off' && !limiter && !MUTATING.has(req.method)) {
      res.locals.ctx = { projectId: 'default', requestId };
      return next();
    }
    const matched = req.path.startsWith('/api/') || req.path === '/health' || req.path === '/ready' ? matchOperation(index, req.method, req.path) : undefined;
    const op = matched?.op;
    if (!op && !req.path.startsWith('/api/')) {
      res.locals.ctx = { projectId: 'default', requestId };
      return next();
    }
    if (op?.public) {
      res.locals.ctx = { projectId: 'default', requestId };
      return next();
    }

    let principal: Principal | undefined;
    let failure: { code: 'unauthorized' | 'forbidden'; reason: string; missing?: string[] } | undefined;
    if (mode !== 'off') {
      const authz = req.headers.authorization;
      const bearer = authz === undefined ? undefined : BEARER.exec(authz)?.[1];
      if (authz !== undefined && bearer === undefined) failure = { code: 'unauthorized', reason: 'the Authorization header must be "Bearer <token>"' };
      else {
        const project = req.headers['mockcloud-project'];
        const auth = await identity.authenticate(bearer, typeof project === 'string' && project ? project : undefined);
        if (auth.kind === 'ok') principal = auth.principal;
        else if (auth.kind === 'invalid') failure = { code: 'unauthorized', reason: auth.reason };
      }
    }
    const projectId = principal?.projectId ?? 'default';

    if (limiter) {
      const key = principal ? (principal.tokenId ?? principal.kind) : `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
      const d = await limiter.consume(key);
      res.setHeader('RateLimit-Policy', policy!);
      res.setHeader('RateLimit', `"default";r=${d.remaining};t=${d.resetS}`);
      res.setHeader('X-RateLimit-Limit', String(d.limit));
      res.setHeader('X-RateLimit-Remaining', String(d.remaining));
      res.setHeader('X-RateLimit-Reset', String(d.resetS));
      if (!d.allowed) return sendProblem(res, req, new AppError('rate_limited', `over the budget of ${d.limit} requests per ${limiter.budget.durationS} s; retry in ${d.resetS} s`, { retryAfter: d.resetS }));
    }

    if (mode !== 'off' && op && !failure) {
      const decision = decide(op.scope, principal);
      if (!decision.ok) failure = { code: decision.code, reason: decision.reason, missing: decision.code === 'forbidden' ? decision.missing : undefined };
    }
    const resourceId = matched?.params.id;

    if (failure) {
      metrics?.authzDenials.inc({ mode, code: failure.code });
      if (mode === 'enforce') {
        const status = failure.code === 'unauthorized' ? 401 : 403;
        await record(req, res, principal, projectId, op?.operationId, resourceId, status, 'denied', failure.reason);
        if (status === 401) res.setHeader('WWW-Authenticate', req.headers.authorization ? 'Bearer realm="mockcloud", error="invalid_token"' : 'Bearer realm="mockcloud"');
        return sendProblem(res, req, new AppError(failure.code, failure.reason, { missingScopes: failure.missing }));
      }
      // soft: let it through, but say so everywhere someone adopting auth would look.
      res.setHeader('Mockcloud-Authz-Would-Deny', failure.missing ? `${failure.code}; missing_scopes="${failure.missing.join(' ')}"` : failure.code);
      logger.warn({ request_id: requestId, operation: op?.operationId, actor: actorOf(principal), code: failure.code, reason: failure.reason }, 'auth would deny (soft mode)');
    }

    res.locals.ctx = { projectId, requestId, principal };
    if (op?.secretResponse) delete req.headers['idempotency-key'];
    if (!MUTATING.has(req.method) && !failure) return next();

    // The trail is written before the response leaves, so whoever reads it next finds the request.
    const decision = failure ? 'would_deny' : 'allowed';
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => Response;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk && typeof chunk !== 'function' && chunks.length < 16) chunks.push(Buffer.from(chunk as string));
      return write(chunk, ...rest);
    }) as Response['write'];
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string));
      let id = resourceId;
      if (!id && res.statusCode < 300 && req.method === 'POST') {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown };
          if (typeof body.id === 'string') id = body.id;
        } catch {
          // not a JSON resource: nothing to name
        }
      }
      void record(req, res, principal, projectId, op?.operationId, id, res.statusCode, decision, failure?.reason).then(() => end(chunk, ...rest));
      return res;
    }) as Response['end'];
    next();
  };
}
