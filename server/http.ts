import type { Request, Response } from 'express';
import { etagOfJson } from '../core/common/etag.js';
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
  // Serialised once: the ETag is the hash of the very bytes sent.
  const json = JSON.stringify(body);
  res.setHeader('ETag', etagOfJson(json));
  if (location) res.setHeader('Location', location);
  res.status(status);
  sendJson(res, json, body);
}

/**
 * Sends JSON text as res.json would send the value it encodes: same Content-Type, same bytes, and
 * res.send's freshness check (If-None-Match → 304). Where the contract validates responses (tests:
 * the validator hooks res.json), the value goes through res.json instead, so it is still checked.
 */
export function sendJson(res: Response, json: string, value?: unknown): void {
  if (res.app.locals.validatesResponses) {
    res.json(value === undefined ? JSON.parse(json) : value);
    return;
  }
  if (!res.get('Content-Type')) res.set('Content-Type', 'application/json');
  res.send(json);
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
