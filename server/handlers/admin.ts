import type { Request, Response } from 'express';
import type { Strategy } from '../../core/admin/service.js';
import type { ChaosRuleInput } from '../../core/chaos/service.js';
import type { Services } from '../services.js';
import { param } from '../http.js';
import type { Handler } from './index.js';

type AdminOperation =
  | 'resetEmulator' | 'exportState' | 'importState' | 'listSnapshots' | 'createSnapshot' | 'deleteSnapshot' | 'restoreSnapshot'
  | 'listChaosRules' | 'createChaosRule' | 'clearChaosRules' | 'deleteChaosRule' | 'getClock' | 'advanceClock' | 'pauseClock' | 'resumeClock' | 'getInit';

const dryRun = (req: Request) => (req.query as { dry_run?: string }).dry_run === 'true';

/** Emulator control, SPEC §11: each handler calls one service function. */
export function adminHandlers(s: Services): Record<AdminOperation, Handler> {
  return {
    resetEmulator: async (req, res) => {
      res.json(await s.admin.reset((req.body ?? {}) as { project_id?: string; environment_id?: string }));
    },
    exportState: async (_req, res: Response) => {
      // Written table by table, so a large state leaves as a stream of chunks, not one string.
      const doc = await s.admin.exportState();
      res.status(200).type('application/json');
      const { tables, ...head } = doc;
      res.write(JSON.stringify(head).slice(0, -1) + ',"tables":{');
      Object.entries(tables).forEach(([name, rows], i) => {
        res.write(`${i ? ',' : ''}${JSON.stringify(name)}:[`);
        for (let j = 0; j < rows.length; j += 200) res.write((j ? ',' : '') + rows.slice(j, j + 200).map((r) => JSON.stringify(r)).join(','));
        res.write(']');
      });
      res.end('}}');
    },
    importState: async (req, res) => {
      const q = req.query as { strategy?: Strategy };
      res.json(await s.admin.importState(req.body, q.strategy ?? 'replace', dryRun(req)));
    },
    listSnapshots: async (_req, res) => {
      res.json({ items: await s.admin.listSnapshots() });
    },
    createSnapshot: async (req, res) => {
      const snap = await s.admin.saveSnapshot((req.body as { name: string }).name);
      res.status(201).setHeader('Location', `/api/v1/admin/snapshots/${encodeURIComponent(snap.name)}`);
      res.json(snap);
    },
    deleteSnapshot: async (req, res) => {
      await s.admin.deleteSnapshot(param(req, 'name'));
      res.status(204).end();
    },
    restoreSnapshot: async (req, res) => {
      res.json(await s.admin.restoreSnapshot(param(req, 'name'), dryRun(req)));
    },
    listChaosRules: async (_req, res) => {
      res.json({ items: await s.chaos.list() });
    },
    createChaosRule: async (req, res) => {
      res.status(201).json(await s.chaos.create(req.body as ChaosRuleInput));
    },
    clearChaosRules: async (_req, res) => {
      await s.chaos.clear();
      res.status(204).end();
    },
    deleteChaosRule: async (req, res) => {
      await s.chaos.delete(param(req, 'id'));
      res.status(204).end();
    },
    getClock: async (_req, res) => {
      res.json(await s.clock.get());
    },
    advanceClock: async (req, res) => {
      res.json(await s.clock.advance((req.body as { seconds: number }).seconds));
    },
    pauseClock: async (_req, res) => {
      res.json(await s.clock.pause());
    },
    resumeClock: async (_req, res) => {
      res.json(await s.clock.resume());
    },
    getInit: (_req, res) => {
      res.json(s.admin.initReport());
    },
  };
}
