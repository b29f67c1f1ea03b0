import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import cors from 'cors';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { OperationId } from '../core/api.js';
import { AppError } from '../core/errors.js';
import type { Metrics } from '../core/metrics.js';
import { openapiPath } from '../core/paths.js';
import { chaosMiddleware } from './chaos.js';
import type { RateLimiter } from '../core/identity/rate-limit.js';
import { access, specOperations } from './access.js';
import { buildHandlers, type Handler } from './handlers/index.js';
import { bodyGuard, isLoopbackAddress, loopbackHostGuard, urlGuard, withoutTrailingSlashes } from './guards.js';
import { idempotency } from './idempotency.js';
import { requestLogger } from './logger.js';
import { readContract } from './spec.js';
import { errorHandler } from './problem.js';
import { createContract, type Contract } from './validator.js';
import { contractOperations, type Services } from './services.js';

export interface AppOptions {
  services: Services;
  logger: Logger;
  /** Validate every response against openapi.yaml (tests turn this on; a violation is a 500). */
  validateResponses?: boolean;
  /** Sees every API response with its operationId (metrics, and the contract tests). */
  observe?: (operationId: string | undefined, req: Request, res: Response, durationMs: number) => void;
  metrics?: Metrics;
  /** Open SSE streams; the composition root ends them on shutdown. */
  streams?: Set<Response>;
  /** Origins allowed by CORS (MOCKCLOUD_CORS_ORIGINS); none → no CORS headers at all (SPEC §10). */
  corsOrigins?: readonly string[];
  /** Bound to a loopback address: refuse requests whose Host is not a loopback name (DNS rebinding). */
  loopbackOnly?: boolean;
  /** Per-token request budgets (SPEC §10); none → unlimited. */
  rateLimiter?: RateLimiter;
  /** Bytes an SSE stream may have waiting for its client before it goes on at the client's pace. */
  streamBufferBytes?: number;
}

/** The safe-default options for a server listening on `host` (SPEC §10). */
export const safeDefaults = (config: { host: string; corsOrigins?: readonly string[] }): Pick<AppOptions, 'corsOrigins' | 'loopbackOnly'> => ({
  corsOrigins: config.corsOrigins,
  loopbackOnly: isLoopbackAddress(config.host),
});

type OpenApiRequest = Request & { openapi?: { schema?: { operationId?: string } } };

const EXPOSED_HEADERS = ['ETag', 'Location', 'Operation-Location', 'Retry-After', 'X-Request-Id', 'Idempotent-Replayed', 'RateLimit-Policy', 'RateLimit', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Mockcloud-Authz-Would-Deny', 'WWW-Authenticate'];

/** Reads the operationIds declared in openapi.yaml. */
export function specOperationIds(spec: unknown): string[] {
  const ids: string[] = [];
  for (const item of Object.values((spec as { paths: Record<string, Record<string, { operationId?: string }>> }).paths)) {
    for (const op of Object.values(item)) if (op && typeof op === 'object' && op.operationId) ids.push(op.operationId);
  }
  return ids;
}

/** Builds the app without listening, so tests run it in-process or on port 0. */
export function createApp(opts: AppOptions): Express {
  const spec = readContract();
  const handlers = buildHandlers(opts.services, { streams: opts.streams ?? new Set(), metrics: opts.metrics, maxBufferedBytes: opts.streamBufferBytes });
  // Strict mode, as openapi-backend does it: a spec operation without a handler stops start-up.
  const missing = specOperationIds(spec).filter((id) => !(id in handlers));
  if (missing.length) throw new Error(`openapi.yaml operations without a handler: ${missing.join(', ')}`);
  // Likewise an operation that does not say which scope it needs (SPEC §10).
  const operations = specOperations(spec);

  // Parsed once here; the validator compiles its own copy lazily (see server/validator.ts).
  const contract = createContract(spec, { validateResponses: opts.validateResponses, validateSpec: opts.validateResponses });

  const app = express();
  app.locals.contract = contract;
  app.disable('x-powered-by');
  app.set('etag', false); // ETags are ours: derived from the representation, on single resources only
  app.set('query parser', 'extended'); // ?tags[key]=value

  app.use((req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    req.headers['x-request-id'] = id;
    res.setHeader('X-Request-Id', id);
    next();
  });
  // One line per request at info; below that the middleware is not even installed.
  if (opts.logger.isLevelEnabled('info')) app.use(requestLogger(opts.logger));
  if (opts.loopbackOnly) app.use(loopbackHostGuard);
  if (opts.corsOrigins?.length) app.use(cors({ origin: [...opts.corsOrigins], exposedHeaders: EXPOSED_HEADERS }));
  app.use(urlGuard);

  // Served as written, comments included; read on demand, not at start-up.
  let specText: string | undefined;
  app.get('/openapi.yaml', (_req, res) => {
    specText ??= fs.readFileSync(openapiPath(), 'utf8');
    res.type('application/yaml').send(specText);
  });
  // Swagger UI is loaded on the first visit to /docs, not at start-up.
  let docs: Promise<express.Router> | undefined;
  app.use('/docs', async (req, res, next) => {
    docs ??= import('swagger-ui-express').then((m) => {
      const router = express.Router();
      router.use(m.default.serve, m.default.setup(spec, { customSiteTitle: 'mockcloud API' }));
      return router;
    });
    (await docs)(req, res, next);
  });
  if (opts.metrics) {
    const { registry } = opts.metrics;
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }

  // The seed paths end in a slash (`/api/v1/environments/`); both spellings reach the same operation.
  app.use((req, _res, next) => {
    if (req.path.length > 1 && req.path.endsWith('/')) {
      const q = req.url.indexOf('?');
      req.url = withoutTrailingSlashes(req.url.slice(0, q < 0 ? undefined : q)) + (q < 0 ? '' : req.url.slice(q));
    }
    next();
  });

  app.use(access(operations, { mode: opts.services.identity.mode, identity: opts.services.identity, audit: opts.services.audit, limiter: opts.rateLimiter, logger: opts.logger, metrics: opts.metrics }));

  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/merge-patch+json', 'application/*+json'], strict: true }));
  app.use(bodyGuard);
  if (opts.observe || opts.metrics) {
    const { observe, metrics } = opts;
    app.use((req, res, next) => {
      const started = performance.now();
      res.on('close', () => {
        const operationId = (req as OpenApiRequest).openapi?.schema?.operationId;
        const ms = performance.now() - started;
        observe?.(operationId, req, res, ms);
        metrics?.httpDuration.observe({ operation: operationId ?? 'unknown', method: req.method, status: String(res.statusCode) }, ms / 1000);
      });
      next();
    });
  }
  app.use(idempotency(opts.services.idempotency));
  // Until the contract is compiled (warmContract, right after listen), probes do not wait for it:
  // they take no input, and a supervisor's first /ready should not pay for ajv.
  app.get(['/health', '/ready'], (req, res, next) => {
    if (contract.compiled) return next();
    const handler = handlers[req.path === '/health' ? 'getHealth' : 'getReady'] as Handler;
    return handler(req, res);
  });
  app.use(contract.middleware);
  app.use(chaosMiddleware(opts.services.chaos, contractOperations(spec as never)));

  app.use(async (req: Request, res: Response, next: NextFunction) => {
    const operationId = (req as OpenApiRequest).openapi?.schema?.operationId;
    const handler = operationId ? (handlers[operationId as OperationId] as Handler | undefined) : undefined;
    if (!handler) return next();
    await handler(req, res);
  });

  app.use((req, _res, next) => next(new AppError('not_found', `no route for ${req.method} ${req.path}; see /openapi.yaml`)));
  app.use(errorHandler(opts.logger));
  return app;
}

/** Compiles the contract of an app made by createApp (start-up calls it right after listen). */
export const warmContract = (app: Express): Promise<void> => (app.locals.contract as Contract).warm();
