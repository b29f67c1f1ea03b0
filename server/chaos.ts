import type { NextFunction, Request, Response } from 'express';
import type { ChaosService, ContractOperation } from '../core/chaos/service.js';
import { ctxOf } from './http.js';

type OpenApiRequest = Request & { openapi?: { schema?: { operationId?: string } } };

/**
 * Chaos rules on the way in: mounted right after the validator (which names the operation) and
 * before any handler, so an injected fault is answered before any side effect. Admin operations
 * are never subject to chaos: a rule must not lock its author out of removing it.
 */
export function chaosMiddleware(chaos: ChaosService, contract: Map<string, ContractOperation>) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const operationId = (req as OpenApiRequest).openapi?.schema?.operationId;
    if (!operationId || req.path.startsWith('/api/v1/admin')) return next();
    const body = req.body as { environment_id?: unknown } | undefined;
    const query = req.query as { environment_id?: unknown };
    const env = typeof body?.environment_id === 'string' ? body.environment_id : typeof query.environment_id === 'string' ? query.environment_id : null;
    const ctx = ctxOf(res);
    const decision = await chaos.decide({ operationId, method: req.method, resourceType: contract.get(operationId)?.resourceType ?? null, projectId: ctx.projectId, environmentId: env });
    if (!decision) return next();
    if (decision.delayMs > 0) await new Promise((r) => setTimeout(r, decision.delayMs));
    if (decision.fault) {
      // An injected fault is not an answer to the request: a retry with the same Idempotency-Key
      // must run it for real, as a client's retry path expects (server/idempotency.ts).
      res.locals.unrecorded = true;
      throw decision.fault;
    }
    if (decision.forcedFailure) res.locals.ctx = { ...ctx, forcedFailure: decision.forcedFailure };
    next();
  };
}
