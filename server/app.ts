import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import cors from 'cors';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import YAML from 'yaml';
import type { OperationId } from '../core/api.js';
import { AppError } from '../core/errors.js';
import type { Metrics } from '../core/metrics.js';
import { openapiPath } from '../core/paths.js';
import type { RateLimiter } from '../core/identity/rate-limit.js';
import { access, specOperations } from './access.js';
import { buildHandlers, type Handler } from './handlers/index.js';
import { idempotency } from './idempotency.js';
import { errorHandler } from './problem.js';
import type { Services } from './services.js';

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
  /** Per-token request budgets (SPEC §10); none → unlimited. */
  rateLimiter?: RateLimiter;
}

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
  const specFile = openapiPath();
  const specText = fs.readFileSync(specFile, 'utf8');
  const spec = YAML.parse(specText) as object;
  const handlers = buildHandlers(opts.services, { streams: opts.streams ?? new Set(), metrics: opts.metrics });
  // Strict mode, as openapi-backend does it: a spec operation without a handler stops start-up.
  const missing = specOperationIds(spec).filter((id) => !(id in handlers));
  if (missing.length) throw new Error(`openapi.yaml operations without a handler: ${missing.join(', ')}`);
  // Likewise an operation that does not say which scope it needs (SPEC §10).
  const operations = specOperations(spec);

  const app = express();
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
  // One line per request at info; below that the per-request child logger is pure cost.
  if (opts.logger.isLevelEnabled('info')) app.use(
    pinoHttp({
      logger: opts.logger,
      genReqId: (req) => String(req.headers['x-request-id']),
      customProps: (req) => ({ request_id: String(req.headers['x-request-id']) }),
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      serializers: { req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url }), res: (res: { statusCode: number }) => ({ status: res.statusCode }) },
    }),
  );
  app.use(cors({ exposedHeaders: EXPOSED_HEADERS }));

  app.get('/openapi.yaml', (_req, res) => {
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
      req.url = req.url.slice(0, q < 0 ? undefined : q).replace(/\/+$/, '') + (q < 0 ? '' : req.url.slice(q));
    }
    next();
  });

  app.use(access(operations, { mode: opts.services.identity.mode, identity: opts.services.identity, audit: opts.services.audit, limiter: opts.rateLimiter, logger: opts.logger, metrics: opts.metrics }));

  app.use(express.json({ limit: '1mb', type: ['application/json', 'application/merge-patch+json', 'application/*+json'], strict: true }));
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
  app.use(
    OpenApiValidator.middleware({
      // The parsed spec (a copy: the validator resolves it in place), so the YAML is read once.
      apiSpec: structuredClone(spec) as never,
      validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false },
      validateResponses: opts.validateResponses ? { onError: (err) => { throw err; } } : false,
      validateFormats: true,
      // The bearer scheme is documented for clients; server/access.ts does the checking.
      validateSecurity: false,
    }),
  );

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
