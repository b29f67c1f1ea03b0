import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../core/errors.js';
import { fingerprint, HEARTBEAT_MS, type IdempotencyStore } from '../core/idempotency/store.js';
import { ctxOf } from './http.js';
import { sendProblem } from './problem.js';

const REPLAYED_HEADERS = ['content-type', 'etag', 'location', 'operation-location', 'retry-after'];
const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Idempotency-Key on POST and PATCH. Mounted after the body parser and before validation, so every
 * response — a validation error included — is recorded and replayed byte for byte.
 */
export function idempotency(store: IdempotencyStore) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const key = req.headers['idempotency-key'];
    if ((req.method !== 'POST' && req.method !== 'PATCH') || key === undefined) return next();
    if (typeof key !== 'string' || !KEY.test(key)) {
      return sendProblem(res, req, new AppError('validation_failed', 'Idempotency-Key must be 1–255 visible ASCII characters', {
        errors: [{ path: '/headers/idempotency-key', message: 'invalid', code: 'pattern' }],
      }));
    }
    const projectId = ctxOf(res).projectId;
    const begun = await store.begin(projectId, key, fingerprint(req.method, req.path, req.body));
    if (begun.kind === 'replay') {
      for (const [h, v] of Object.entries(begun.response.headers)) res.setHeader(h, v);
      res.setHeader('Idempotent-Replayed', 'true');
      res.status(begun.response.status).end(begun.response.body);
      return;
    }
    const alive = setInterval(() => void store.heartbeat(projectId, key).catch(() => undefined), HEARTBEAT_MS);
    alive.unref();
    res.once('close', () => clearInterval(alive));
    // Capture the response and store it before it leaves, so a retry arriving the instant the
    // client hears back already finds it.
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    const end = res.end.bind(res) as (...a: unknown[]) => Response;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk) chunks.push(Buffer.from(chunk as string));
      return write(chunk, ...rest);
    }) as Response['write'];
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string));
      const headers: Record<string, string> = {};
      for (const h of REPLAYED_HEADERS) {
        const v = res.getHeader(h);
        if (v !== undefined) headers[h] = String(v);
      }
      clearInterval(alive);
      const body = Buffer.concat(chunks).toString('utf8');
      // 5xx, 429 and injected chaos faults are not outcomes: the client is meant to retry them with
      // the same key, and the retry must be processed, not replayed.
      const transient = res.statusCode >= 500 || res.statusCode === 429 || res.locals.unrecorded === true;
      const saved = transient ? store.abandon(projectId, key) : store.complete(projectId, key, { status: res.statusCode, headers, body });
      saved.then(
        () => end(chunk, ...rest),
        () => end(chunk, ...rest),
      );
      return res;
    }) as Response['end'];
    next();
  };
}
