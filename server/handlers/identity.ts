import type { Request, Response } from 'express';
import type { Role } from '../../core/identity/access.js';
import type { Services } from '../services.js';
import { ctxOf, param } from '../http.js';

// Identity and audit operations (SPEC §10). Who may call each is openapi.yaml's `x-required-scope`,
// checked by server/access.ts before these run.

const q = (req: Request) => req.query as Record<string, string | undefined>;
const limitOf = (req: Request) => (q(req).limit === undefined ? undefined : Number(q(req).limit));

export function identityHandlers(s: Services) {
  return {
    getWhoami: (_req: Request, res: Response) => {
      res.json(s.identity.whoami(ctxOf(res)));
    },
    createUser: async (req: Request, res: Response) => {
      const user = await s.identity.createUser(req.body as { name: string; email?: string });
      res.setHeader('Location', `/api/v1/users/${user.id}`);
      res.status(201).json(user);
    },
    listUsers: async (req: Request, res: Response) => {
      res.json(await s.identity.listUsers({ limit: limitOf(req), pageToken: q(req).page_token, name: q(req).name }));
    },
    createProject: async (req: Request, res: Response) => {
      const project = await s.identity.createProject(req.body as { name: string; owner_id?: string });
      res.setHeader('Location', `/api/v1/projects/${project.id}`);
      res.status(201).json(project);
    },
    listProjects: async (req: Request, res: Response) => {
      res.json(await s.identity.listProjects(ctxOf(res), { limit: limitOf(req), pageToken: q(req).page_token, name: q(req).name }));
    },
    deleteProject: async (req: Request, res: Response) => {
      await s.identity.deleteProject(param(req, 'id'));
      res.status(204).end();
    },
    listMembers: async (req: Request, res: Response) => {
      res.json(await s.identity.listMembers(ctxOf(res), param(req, 'id')));
    },
    putMember: async (req: Request, res: Response) => {
      const { member, created } = await s.identity.putMember(ctxOf(res), param(req, 'id'), param(req, 'user_id'), (req.body as { role: Role }).role);
      res.status(created ? 201 : 200).json(member);
    },
    deleteMember: async (req: Request, res: Response) => {
      await s.identity.deleteMember(ctxOf(res), param(req, 'id'), param(req, 'user_id'));
      res.status(204).end();
    },
    createToken: async (req: Request, res: Response) => {
      const token = await s.identity.createToken(ctxOf(res), req.body as Parameters<Services['identity']['createToken']>[1]);
      res.setHeader('Location', `/api/v1/tokens/${token.id}`);
      res.setHeader('Cache-Control', 'no-store');
      res.status(201).json(token);
    },
    listTokens: async (req: Request, res: Response) => {
      res.json(await s.identity.listTokens(ctxOf(res), { limit: limitOf(req), pageToken: q(req).page_token, include_revoked: q(req).include_revoked === 'true' || (req.query.include_revoked as unknown) === true }));
    },
    revokeToken: async (req: Request, res: Response) => {
      await s.identity.revokeToken(ctxOf(res), param(req, 'id'));
      res.status(204).end();
    },
    listAuditEvents: async (req: Request, res: Response) => {
      const x = q(req);
      res.json(
        await s.audit.list(ctxOf(res).projectId, {
          limit: limitOf(req),
          pageToken: x.page_token,
          actor: x.actor,
          tokenId: x.token_id,
          operationId: x.operation_id,
          resourceId: x.resource_id,
          decision: x.decision,
        }),
      );
    },
  };
}
