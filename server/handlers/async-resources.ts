import type { Request, Response } from 'express';
import { replaceVm, replaceVolume } from '../../core/common/replace.js';
import type { Ctx } from '../../core/common/context.js';
import { AppError } from '../../core/errors.js';
import type { Accepted } from '../../core/vms/service.js';
import type { Services } from '../services.js';
import { ctxOf, header, listQuery, param, sendAccepted, sendJson, sendResource } from '../http.js';

/** The longest a request may ask to be held with `Prefer: wait`. */
export const MAX_PREFER_WAIT_S = 600;

/**
 * `Prefer: wait=<seconds>` (RFC 7240): the client would rather have the outcome than a 202. Absent,
 * or combined with `respond-async`, → undefined (answer 202 at once). A bare `wait` means the maximum.
 */
export function preferredWait(req: Request): number | undefined {
  const prefer = header(req, 'prefer');
  if (!prefer) return undefined;
  const prefs = prefer.split(/\s*,\s*/).map((p) => p.trim().toLowerCase());
  if (prefs.some((p) => p === 'respond-async')) return undefined;
  for (const p of prefs) {
    const m = /^wait(?:\s*=\s*"?(\d+)"?)?$/.exec(p);
    if (m) return Math.min(m[1] === undefined ? MAX_PREFER_WAIT_S : Number(m[1]), MAX_PREFER_WAIT_S);
  }
  return undefined;
}

type Step = 'create' | 'delete' | 'action';

/**
 * Answers an accepted asynchronous request: 202 with the transitional state, or — when the client
 * sent `Prefer: wait=N` and the operation ends within N seconds — the settled outcome: 201 with the
 * created resource, 204 for a delete that succeeded, 200 with the resource otherwise (including a
 * resource left in `error` by a failed operation: its `error` says why).
 */
async function answer(
  req: Request,
  res: Response,
  s: Services,
  collection: string,
  a: Accepted<{ id: string }>,
  step: Step,
  reread: (ctx: Ctx, id: string) => Promise<{ id: string }>,
): Promise<void> {
  const wait = preferredWait(req);
  const ctx = ctxOf(res);
  const op = wait === undefined ? undefined : await s.operations.waitUntilDone(ctx, a.operation.id, wait * 1000);
  if (!op) return sendAccepted(res, a.resource, `${collection}/${a.resource.id}`, a.operation.id, a.retryAfter);
  res.setHeader('Preference-Applied', `wait=${wait}`);
  res.setHeader('Operation-Location', `/api/v1/operations/${op.id}`);
  if (step === 'delete' && op.status === 'succeeded') {
    res.status(204).end();
    return;
  }
  let settled: { id: string };
  try {
    settled = await reread(ctx, a.resource.id);
  } catch (err) {
    // Gone in the meantime (deleted by someone else): the plain 202 is still a true answer.
    if (err instanceof AppError && err.code === 'not_found') {
      res.removeHeader('Preference-Applied');
      return sendAccepted(res, a.resource, `${collection}/${a.resource.id}`, a.operation.id, a.retryAfter);
    }
    throw err;
  }
  sendResource(res, step === 'create' ? 201 : 200, settled, `${collection}/${settled.id}`);
}

export function vmHandlers(s: Services) {
  const c = '/api/v1/vms';
  const get = (ctx: Ctx, id: string) => s.vms.get(ctx, id);
  return {
    listVms: async (req: Request, res: Response) => {
      sendJson(res, await s.vms.listJson(ctxOf(res), listQuery(req)));
    },
    createVm: async (req: Request, res: Response) => answer(req, res, s, c, await s.vms.create(ctxOf(res), req.body), 'create', get),
    getVm: async (req: Request, res: Response) => sendResource(res, 200, await s.vms.get(ctxOf(res), param(req, 'id'))),
    updateVm: async (req: Request, res: Response) =>
      sendResource(res, 200, await s.vms.update(ctxOf(res), param(req, 'id'), req.body, header(req, 'if-match'))),
    replaceVm: async (req: Request, res: Response) =>
      sendResource(res, 200, await replaceVm(s.vms, ctxOf(res), param(req, 'id'), req.body, header(req, 'if-match'))),
    deleteVm: async (req: Request, res: Response) =>
      answer(req, res, s, c, await s.vms.delete(ctxOf(res), param(req, 'id'), header(req, 'if-match')), 'delete', get),
    startVm: async (req: Request, res: Response) => answer(req, res, s, c, await s.vms.action(ctxOf(res), param(req, 'id'), 'start'), 'action', get),
    stopVm: async (req: Request, res: Response) => answer(req, res, s, c, await s.vms.action(ctxOf(res), param(req, 'id'), 'stop'), 'action', get),
    rebootVm: async (req: Request, res: Response) => answer(req, res, s, c, await s.vms.action(ctxOf(res), param(req, 'id'), 'reboot'), 'action', get),
  };
}

export function volumeHandlers(s: Services) {
  const c = '/api/v1/volumes';
  const get = (ctx: Ctx, id: string) => s.volumes.get(ctx, id);
  return {
    listVolumes: async (req: Request, res: Response) => {
      res.json(await s.volumes.list(ctxOf(res), listQuery(req)));
    },
    createVolume: async (req: Request, res: Response) => answer(req, res, s, c, await s.volumes.create(ctxOf(res), req.body), 'create', get),
    getVolume: async (req: Request, res: Response) => sendResource(res, 200, await s.volumes.get(ctxOf(res), param(req, 'id'))),
    updateVolume: async (req: Request, res: Response) =>
      sendResource(res, 200, await s.volumes.update(ctxOf(res), param(req, 'id'), req.body, header(req, 'if-match'))),
    replaceVolume: async (req: Request, res: Response) =>
      sendResource(res, 200, await replaceVolume(s.volumes, ctxOf(res), param(req, 'id'), req.body, header(req, 'if-match'))),
    deleteVolume: async (req: Request, res: Response) =>
      answer(req, res, s, c, await s.volumes.delete(ctxOf(res), param(req, 'id'), header(req, 'if-match')), 'delete', get),
    attachVolume: async (req: Request, res: Response) =>
      answer(req, res, s, c, await s.volumes.attach(ctxOf(res), param(req, 'id'), param(req, 'vm_id')), 'action', get),
    detachVolume: async (req: Request, res: Response) => answer(req, res, s, c, await s.volumes.detach(ctxOf(res), param(req, 'id')), 'action', get),
  };
}
