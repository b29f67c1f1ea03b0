import type { Request, Response } from 'express';
import type { OperationId } from '../../core/api.js';
import { AppError } from '../../core/errors.js';
import type { Services } from '../services.js';
import { syncCrudHandlers } from './sync-crud.js';

export type Handler = (req: Request, res: Response) => Promise<void> | void;

// The static operationId → handler map (SPEC-first: routes come from openapi.yaml). Its type makes
// the compiler list every operation, and createApp checks it against the spec at start-up.
export function buildHandlers(s: Services): Partial<Record<OperationId, Handler>> {
  const envs = syncCrudHandlers(s.environments, '/api/v1/environments');
  const sgs = syncCrudHandlers(s.securityGroups, '/api/v1/security-groups');
  return {
    listEnvironments: envs.list,
    createEnvironment: envs.create,
    getEnvironment: envs.get,
    updateEnvironment: envs.update,
    deleteEnvironment: envs.delete,
    listSecurityGroups: sgs.list,
    createSecurityGroup: sgs.create,
    getSecurityGroup: sgs.get,
    updateSecurityGroup: sgs.update,
    deleteSecurityGroup: sgs.delete,
    getHealth: (_req, res) => {
      res.json({ status: 'ok' });
    },
    getReady: async (_req, res) => {
      const report = await s.health.readiness();
      if (!report.ok) {
        const down = Object.entries(report.checks).filter(([, v]) => v !== 'ok').map(([k]) => k);
        throw new AppError('unavailable', `not ready: ${down.join(', ')} down`, {
          retryAfter: 5,
          dependents: down.map((id) => ({ id, type: 'dependency' })),
        });
      }
      res.json({ status: 'ready', checks: report.checks });
    },
  };
}
