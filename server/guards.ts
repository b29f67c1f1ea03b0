import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { AppError, validationFailed } from '../core/errors.js';
import { problemOf } from './problem.js';

// Defences against hostile input that the contract cannot express. Each answers a 4xx problem and
// costs time linear in the input, so no request can stall the event loop.

/** Deeper than any document the contract describes; deeper bodies are refused before anything walks them recursively. */
export const MAX_BODY_DEPTH = 32;
const FORBIDDEN_TAG_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Walks the parsed body iteratively: refuses NUL bytes in any key or string (PostgreSQL cannot store
 * them; SQLite would, so both stores now answer the same 400) and nesting deeper than
 * MAX_BODY_DEPTH (the idempotency fingerprint and the validator recurse).
 */
export function inspectBody(body: unknown): void {
  const stack: [unknown, number][] = [[body, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) throw nul('/body');
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_BODY_DEPTH) throw validationFailed([{ path: '/body', message: `nested deeper than ${MAX_BODY_DEPTH} levels`, code: 'depth' }]);
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\0')) throw nul('/body');
        stack.push([child, depth + 1]);
      }
    }
  }
}

const nul = (path: string) => validationFailed([{ path, message: 'contains a NUL byte', code: 'nul_byte' }]);

/**
 * Refuses what the URL must not carry: a NUL byte anywhere (a path id, `?name=`), and `?tags[…]`
 * keys that the query parser would silently drop (`__proto__`, `constructor`, `prototype`), which
 * would widen the filter instead of narrowing it.
 */
export function inspectUrl(url: string): void {
  if (/%00/i.test(url) || url.includes('\0')) throw nul('/url');
  const q = url.indexOf('?');
  if (q < 0) return;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(url.slice(q + 1));
  } catch {
    return; // malformed escapes are the query parser's and validator's to refuse
  }
  for (const key of params.keys()) {
    const m = /^tags\[(.*)\]$/.exec(key);
    if (m && FORBIDDEN_TAG_KEYS.has(m[1]!)) {
      throw validationFailed([{ path: `/query/tags/${m[1]}`, message: 'this tag key is not allowed', code: 'not' }]);
    }
  }
}

export function urlGuard(req: Request, _res: Response, next: NextFunction): void {
  inspectUrl(req.url);
  next();
}

export function bodyGuard(req: Request, _res: Response, next: NextFunction): void {
  inspectBody(req.body);
  next();
}

/**
 * The seed paths end in a slash; both spellings reach the same operation. Trimmed by a loop, not
 * `/\/+$/`, which backtracks quadratically on a long run of slashes.
 */
export function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47 /* / */) end--;
  return path.slice(0, end);
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export const isLoopbackAddress = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The Host header's name without its port, lower-cased; undefined when absent or malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/i.exec(header.trim());
  return m?.[1]!.toLowerCase();
}

/**
 * DNS rebinding (SPEC §10 "Safe defaults"): a web page whose name resolves to 127.0.0.1 can reach a
 * server bound to loopback, but its requests carry that page's Host. When bound to loopback we
 * answer only requests addressed to a loopback name, and refuse the rest with 403 `forbidden`.
 */
export function loopbackHostGuard(req: Request, _res: Response, next: NextFunction): void {
  const name = hostName(req.headers.host);
  if (name && LOOPBACK_HOSTS.has(name)) return next();
  next(new AppError('forbidden', `this server is bound to a loopback address and answers only requests for localhost, 127.0.0.1 or [::1], not Host "${req.headers.host ?? ''}"`));
}

/**
 * Node answers an oversized URL or header block (and other unparseable requests) itself, with a
 * bare status line. This gives those clients a problem document like every other error.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const doc = {
      ...problemOf(new AppError('validation_failed', tooLarge ? 'the request line or headers are larger than this server accepts' : 'the request is not valid HTTP'), {
        originalUrl: '',
        headers: {},
      } as Request),
      status,
      title: tooLarge ? 'Request header fields too large' : 'Bad request',
    };
    delete (doc as { instance?: string }).instance;
    delete (doc as { request_id?: string }).request_id;
    const body = JSON.stringify(doc);
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
