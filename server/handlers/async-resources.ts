import type { Request, Response } from 'express';
import type { Accepted } from '../../core/vms/service.js';
import type { Services } from '../services.js';
import { ctxOf, header, listQuery, param, sendAccepted, sendResource } from '../http.js';

const accepted = (res: Response, collection: string, a: Accepted<{ id: string }>) =>
  sendAccepted(res, a.resource, `${collection}/${a.resource.id}`, a.operation.id, a.retryAfter);

export function vmHandlers(s: Services) {
  const c = '/api/v1/vms';
  return {
    listVms: async (req: Request, res: Response) => {
      res.json(await s.vms.list(ctxOf(res), listQuery(req)));
    },
    createVm: async (req: Request, res: Response) => accepted(res, c, await s.vms.create(ctxOf(res), req.body)),
    getVm: async (req: Request, res: Response) => sendResource(res, 200, await s.vms.get(ctxOf(res), param(req, 'id'))),
    updateVm: async (req: Request, res: Response) =>
      sendResource(res, 200, await s.vms.update(ctxOf(res), param(req, 'id'), req.body, header(req, 'if-match'))),
    deleteVm: async (req: Request, res: Response) => accepted(res, c, await s.vms.delete(ctxOf(res), param(req, 'id'), header(req, 'if-match'))),
    startVm: async (req: Request, res: Response) => accepted(res, c, await s.vms.action(ctxOf(res), param(req, 'id'), 'start')),
    stopVm: async (req: Request, res: Response) => accepted(res, c, await s.vms.action(ctxOf(res), param(req, 'id'), 'stop')),
    rebootVm: async (req: Request, res: Response) => accepted(res, c, await s.vms.action(ctxOf(res), param(req, 'id'), 'reboot')),
  };
}

export function volumeHandlers(s: Services) {
  const c = '/api/v1/volumes';
  return {
    listVolumes: async (req: Request, res: Response) => {
      res.json(await s.volumes.list(ctxOf(res), listQuery(req)));
    },
    createVolume: async (req: Request, res: Response) => accepted(res, c, await s.volumes.create(ctxOf(res), req.body)),
    getVolume: async (req: Request, res: Response) => sendResource(res, 200, await s.volumes.get(ctxOf(res), param(req, 'id'))),
    updateVolume: async (req: Request, res: Response) =>
      sendResource(res, 200, await s.volumes.update(ctxOf(res), param(req, 'id'), req.body, header(req, 'if-match'))),
    deleteVolume: async (req: Request, res: Response) =>
      accepted(res, c, await s.volumes.delete(ctxOf(res), param(req, 'id'), header(req, 'if-match'))),
    attachVolume: async (req: Request, res: Response) =>
      accepted(res, c, await s.volumes.attach(ctxOf(res), param(req, 'id'), param(req, 'vm_id'))),
    detachVolume: async (req: Request, res: Response) => accepted(res, c, await s.volumes.detach(ctxOf(res), param(req, 'id'))),
  };
}
