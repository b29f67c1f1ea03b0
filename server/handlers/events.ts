import type { Request, Response } from 'express';
import { AppError } from '../../core/errors.js';
import { toWire } from '../../core/events/feed.js';
import type { Metrics } from '../../core/metrics.js';
import type { Services } from '../services.js';
import { ctxOf, header } from '../http.js';

const KEEPALIVE_MS = 15_000;

/**
 * GET /api/v1/events: Server-Sent Events from the event log. `Last-Event-ID` (header or
 * ?last_event_id) resumes right after that sequence number; without it the stream starts now.
 */
export interface StreamHooks {
  /** Open streams, so graceful shutdown can end them with a retry hint. */
  streams: Set<Response>;
  metrics?: Metrics;
}

export function streamEvents(s: Services, hooks: StreamHooks) {
  return async (req: Request, res: Response): Promise<void> => {
    const q = req.query as Record<string, unknown>;
    const last = header(req, 'last-event-id') ?? (typeof q.last_event_id === 'string' ? q.last_event_id : undefined);
    if (last !== undefined && !/^\d{1,15}$/.test(last)) {
      throw new AppError('validation_failed', `Last-Event-ID must be an event sequence number, not "${last}"`, {
        errors: [{ path: '/headers/last-event-id', message: 'must be a non-negative integer', code: 'type' }],
      });
    }
    const ids = q.resource_id === undefined ? undefined : ([] as unknown[]).concat(q.resource_id).map(String);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    const sub = await s.events.open(
      {
        projectId: ctxOf(res).projectId,
        resourceIds: ids,
        environmentId: typeof q.environment_id === 'string' ? q.environment_id : undefined,
        kind: typeof q.kind === 'string' ? q.kind : undefined,
      },
      last === undefined ? undefined : Number(last),
      (rows) => {
        let chunk = '';
        for (const r of rows) chunk += `id: ${r.seq}\nevent: ${r.type}\ndata: ${JSON.stringify(toWire(r))}\n\n`;
        res.write(chunk);
        hooks.metrics?.eventsFanout.inc(rows.length);
      },
    );
    hooks.streams.add(res);
    hooks.metrics?.sseClients.inc();
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    await new Promise<void>((resolve) => res.on('close', () => resolve()));
    hooks.streams.delete(res);
    hooks.metrics?.sseClients.dec();
    clearInterval(keepalive);
    await sub.close();
  };
}
