import type { Request, Response } from 'express';
import type { EventRow } from '../../core/events/event-log.js';
import { toWire, type ResetNotice } from '../../core/events/feed.js';
import { AppError } from '../../core/errors.js';
import type { Metrics } from '../../core/metrics.js';
import type { Services } from '../services.js';
import { ctxOf, header } from '../http.js';

const KEEPALIVE_MS = 15_000;
const RETRY = 'retry: 2000\n\n';

export interface StreamHooks {
  /** Open streams, so graceful shutdown can end them with a retry hint. */
  streams: Set<Response>;
  metrics?: Metrics;
  /**
   * Bytes a stream may have waiting for its client before it stops taking live events and goes on
   * from the event log at the client's pace (default 1 MiB): a client that stops reading holds
   * about this much of the process's memory, not every event since.
   */
  maxBufferedBytes?: number;
}

const MAX_BUFFERED_BYTES = 1024 * 1024;

/** The SSE `reset` event: the stream cannot resume gap-free from the id it was given. */
function resetFrame(n: ResetNotice): string {
  const detail =
    n.reason === 'expired'
      ? `events after ${n.lastEventId} are past retention; list the resources again, then keep reading this stream`
      : `event ${n.lastEventId} does not exist (the newest is ${n.resumeAfter}); list the resources again, then keep reading this stream`;
  const data = { type: 'reset', reason: n.reason, last_event_id: n.lastEventId, pruned_through: n.prunedThrough, resume_after: n.resumeAfter, detail };
  // The id moves the client's Last-Event-ID past the reset, so a reconnect does not reset again.
  return `id: ${n.resumeAfter}\nevent: reset\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /api/v1/events: Server-Sent Events from the event log. `Last-Event-ID` (header or
 * ?last_event_id) resumes right after that sequence number; without it the stream starts now.
 */
export function streamEvents(s: Services, hooks: StreamHooks) {
  // Every stream that gets a row writes the same bytes: serialise each row once, and encode each
  // batch the feed hands to several streams once (hundreds of streams take the same batch).
  const frames = new WeakMap<EventRow, string>();
  const frameOf = (r: EventRow) => {
    let f = frames.get(r);
    if (f === undefined) {
      f = `id: ${r.seq}\nevent: ${r.type}\ndata: ${JSON.stringify(toWire(r))}\n\n`;
      frames.set(r, f);
    }
    return f;
  };
  const batches = new WeakMap<readonly EventRow[], Buffer>();
  const batchOf = (rows: readonly EventRow[]) => {
    let b = batches.get(rows);
    if (b === undefined) {
      b = Buffer.from(rows.map(frameOf).join(''));
      batches.set(rows, b);
    }
    return b;
  };

  const maxBuffered = hooks.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  return async (req: Request, res: Response): Promise<void> => {
    const q = req.query as Record<string, unknown>;
    const last = header(req, 'last-event-id') ?? (typeof q.last_event_id === 'string' ? q.last_event_id : undefined);
    if (last !== undefined && !/^\d{1,15}$/.test(last)) {
      throw new AppError('validation_failed', `Last-Event-ID must be an event sequence number, not "${last}"`, {
        errors: [{ path: '/headers/last-event-id', message: 'must be a non-negative integer', code: 'type' }],
      });
    }
    const ids = q.resource_id === undefined ? undefined : ([] as unknown[]).concat(q.resource_id).map(String);
    // Writing after the client left or after shutdown ended the response would raise on the response.
    const writable = () => !res.writableEnded && !res.destroyed;
    let keepalive: NodeJS.Timeout | undefined;
    const stream = s.events.open(
      {
        projectId: ctxOf(res).projectId,
        resourceIds: ids,
        environmentId: typeof q.environment_id === 'string' ? q.environment_id : undefined,
        kind: typeof q.kind === 'string' ? q.kind : undefined,
      },
      last === undefined ? undefined : Number(last),
      {
        open: () => {
          if (!writable()) return;
          res.status(200);
          res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
          res.setHeader('Cache-Control', 'no-cache, no-transform');
          res.setHeader('Connection', 'keep-alive');
          res.setHeader('X-Accel-Buffering', 'no');
          res.flushHeaders();
          res.write(RETRY);
          // Unref'd: an open stream never keeps a stopping process alive.
          keepalive = setInterval(() => writable() && res.write(': keepalive\n\n'), KEEPALIVE_MS);
          keepalive.unref();
        },
        events: (rows) => {
          if (!writable()) return;
          res.write(batchOf(rows));
          hooks.metrics?.eventsFanout.inc(rows.length);
        },
        keepsUp: () => res.writableLength < maxBuffered,
        drained: () =>
          res.writableLength < maxBuffered || !writable()
            ? Promise.resolve()
            : new Promise<void>((resolve) => {
                const done = () => {
                  res.off('drain', done);
                  res.off('close', done);
                  resolve();
                };
                res.on('drain', done);
                res.on('close', done);
              }),
        reset: (notice) => {
          if (writable()) res.write(resetFrame(notice));
        },
        end: () => {
          if (writable()) res.end(RETRY);
        },
      },
    );
    // Tied to the client before anything is awaited: a client that leaves while the stream opens
    // frees it as surely as one that leaves later.
    hooks.streams.add(res);
    const count = () => hooks.metrics?.sseClients.set(s.events.size);
    count();
    const release = () => {
      stream.close();
      hooks.streams.delete(res);
      clearInterval(keepalive);
      count();
    };
    res.once('close', release);
    if (res.destroyed || req.socket.destroyed) return release();
    try {
      await stream.start();
    } catch (err) {
      release();
      throw err;
    }
  };
}
