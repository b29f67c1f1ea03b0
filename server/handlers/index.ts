import type { Request, Response } from 'express';
import type { OperationId } from '../../core/api.js';
import { IMAGES, SIZES } from '../../core/catalogue.js';
import { replaceEnvironment, replaceSecurityGroup } from '../../core/common/replace.js';
import { AppError } from '../../core/errors.js';
import { VERSION } from '../../core/version.js';
import type { Services } from '../services.js';
import { ctxOf, header, param, sendResource } from '../http.js';
import { adminHandlers } from './admin.js';
import { vmHandlers, volumeHandlers } from './async-resources.js';
import { streamEvents, type StreamHooks } from './events.js';
import { identityHandlers } from './identity.js';
import { syncCrudHandlers } from './sync-crud.js';

export type Handler = (req: Request, res: Response) => Promise<void> | void;

// The static operationId → handler map (spec-first: routes come from openapi.yaml). Its type makes
// the compiler demand every operation, and createApp checks it against the spec at start-up.
export function buildHandlers(s: Services, hooks: StreamHooks = { streams: new Set() }): Record<OperationId, Handler> {
  const envs = syncCrudHandlers(s.environments, '/api/v1/environments');
  const sgs = syncCrudHandlers(s.securityGroups, '/api/v1/security-groups');
  return {
    listEnvironments: envs.list,
    createEnvironment: envs.create,
    getEnvironment: envs.get,
    updateEnvironment: envs.update,
    deleteEnvironment: envs.delete,
    replaceEnvironment: async (req, res) =>
      sendResource(res, 200, await replaceEnvironment(s.environments, ctxOf(res), param(req, 'id'), req.body, header(req, 'if-match'))),
    listSecurityGroups: sgs.list,
    createSecurityGroup: sgs.create,
    getSecurityGroup: sgs.get,
    updateSecurityGroup: sgs.update,
    deleteSecurityGroup: sgs.delete,
    replaceSecurityGroup: async (req, res) =>
      sendResource(res, 200, await replaceSecurityGroup(s.securityGroups, ctxOf(res), param(req, 'id'), req.body, header(req, 'if-match'))),
    ...vmHandlers(s),
    ...volumeHandlers(s),
    ...adminHandlers(s),
    ...identityHandlers(s),
    listOperations: async (req, res) => {
      const q = req.query as Record<string, string | undefined>;
      res.json(
        await s.operations.list(ctxOf(res), {
          limit: q.limit === undefined ? undefined : Number(q.limit),
          pageToken: q.page_token,
          resourceId: q.resource_id,
          kind: q.kind,
          status: q.status,
          environmentId: q.environment_id,
        }),
      );
    },
    getOperation: async (req, res) => {
      const op = await s.operations.get(ctxOf(res), param(req, 'id'));
      if (!op.done) res.setHeader('Retry-After', '1');
      sendResource(res, 200, op);
    },
    listSizes: (_req, res) => {
      res.json({ items: SIZES });
    },
    listImages: (_req, res) => {
      res.json({ items: IMAGES });
    },
    getSimulation: async (_req, res) => sendResource(res, 200, await s.simulation.get()),
    updateSimulation: async (req, res) => sendResource(res, 200, await s.simulation.update(req.body, header(req, 'if-match'))),
    streamEvents: streamEvents(s, hooks),
    getHealth: (_req, res) => {
      res.json({ status: 'ok', version: VERSION });
    },
    getReady: async (_req, res) => {
      const report = await s.health.readiness();
      if (!report.ok) {
        const down = Object.entries(report.checks).filter(([, v]) => v !== 'ok').map(([k]) => k);
        throw new AppError('unavailable', `not ready: ${report.problems.join('; ')}`, {
          retryAfter: 5,
          dependents: down.map((id) => ({ id, type: 'dependency' })),
        });
      }
      res.json({ status: 'ready', checks: report.checks });
    },
  };
}
