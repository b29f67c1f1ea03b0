import type { Request, Response } from 'express';
import type { Ctx } from '../../core/common/context.js';
import type { ListQuery } from '../../core/common/list.js';
import type { Page } from '../../core/common/pagination.js';
import { ctxOf, header, listQuery, param, sendResource } from '../http.js';

/** What a synchronous resource's service offers; environments and security groups share it. */
export interface SyncService<T extends { id: string }, C, P> {
  create(ctx: Ctx, input: C): Promise<T>;
  list(ctx: Ctx, q: ListQuery): Promise<Page<T>>;
  get(ctx: Ctx, id: string): Promise<T>;
  update(ctx: Ctx, id: string, patch: P, ifMatch?: string): Promise<T>;
  delete(ctx: Ctx, id: string, ifMatch?: string): Promise<void>;
}

export function syncCrudHandlers<T extends { id: string }, C, P>(service: SyncService<T, C, P>, collection: string) {
  return {
    list: async (req: Request, res: Response) => {
      res.json(await service.list(ctxOf(res), listQuery(req)));
    },
    create: async (req: Request, res: Response) => {
      const created = await service.create(ctxOf(res), req.body as C);
      sendResource(res, 201, created, `${collection}/${created.id}`);
    },
    get: async (req: Request, res: Response) => {
      sendResource(res, 200, await service.get(ctxOf(res), param(req, 'id')));
    },
    update: async (req: Request, res: Response) => {
      sendResource(res, 200, await service.update(ctxOf(res), param(req, 'id'), req.body as P, header(req, 'if-match')));
    },
    delete: async (req: Request, res: Response) => {
      await service.delete(ctxOf(res), param(req, 'id'), header(req, 'if-match'));
      res.status(204).end();
    },
  };
}
