import type { Request, Response } from 'express';
import { etagOf } from '../core/common/etag.js';
import type { Ctx } from '../core/common/context.js';

export const ctxOf = (res: Response): Ctx => res.locals.ctx as Ctx;

// Routes are matched by the OpenAPI validator, not by Express, so path parameters live on req.openapi.
export const param = (req: Request, name: string): string =>
  String((req as Request & { openapi?: { pathParams?: Record<string, string> } }).openapi?.pathParams?.[name]);

export const header = (req: Request, name: string): string | undefined => {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** A single resource: always with its ETag (SPEC §4). */
export function sendResource(res: Response, status: number, body: unknown, location?: string): void {
  res.setHeader('ETag', etagOf(body));
  if (location) res.setHeader('Location', location);
  res.status(status).json(body);
}

/** 202 for an async request: the resource in its transitional state and where to follow it. */
export function sendAccepted(res: Response, body: { id: string }, location: string, operationId: string, retryAfter: number): void {
  res.setHeader('Operation-Location', `/api/v1/operations/${operationId}`);
  res.setHeader('Retry-After', String(retryAfter));
  sendResource(res, 202, body, location);
}

/** Query values as the validator left them: coerced, but possibly strings on some paths. */
export function listQuery(req: Request) {
  const q = req.query as Record<string, unknown>;
  const str = (k: string) => (typeof q[k] === 'string' ? (q[k] as string) : undefined);
  return {
    limit: q.limit === undefined ? undefined : Number(q.limit),
    pageToken: str('page_token'),
    name: str('name'),
    environmentId: str('environment_id'),
    status: str('status'),
    tags: (q.tags && typeof q.tags === 'object' ? q.tags : undefined) as Record<string, string> | undefined,
  };
}
