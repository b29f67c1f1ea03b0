import { setTimeout as sleep } from 'node:timers/promises';
import type { Operation } from '../core/api.js';
import type { ApiClient } from './api-client.js';
import { ApiError, UnreachableError } from './errors.js';
import { isOperationEvent, openEventStream } from './events.js';

// Following one operation to its end. The event stream (filtered on the resource) gives live
// progress; polling GET /operations/{id} runs alongside — slowly while the stream is healthy, as a
// safety net for a missed event, quickly when the server has no stream or it broke.

export interface FollowOptions {
  signal?: AbortSignal;
  onUpdate?: (op: Operation) => void;
  /** Poll interval while the event stream is healthy / without it (ms). */
  slowPollMs?: number;
  fastPollMs?: number;
  /** Give up after the server has been unreachable this long (ms). */
  unreachableForMs?: number;
}

export async function followOperation(client: ApiClient, operationId: string, resourceId: string | undefined, opts: FollowOptions = {}): Promise<Operation> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let latest: Operation | undefined;
  let streaming = false;
  let settle!: (op: Operation) => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<Operation>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });

  const offer = (op: Operation) => {
    if (op.id !== operationId || stop.signal.aborted) return;
    // Events and polls race: never step back to an older picture of the operation.
    if (latest && (latest.done || op.progress < latest.progress)) return;
    const changed = !latest || latest.status !== op.status || latest.progress !== op.progress || latest.message !== op.message;
    latest = op;
    if (changed) opts.onUpdate?.(op);
    if (op.done) settle(op);
  };

  const streamTask = async () => {
    let lastEventId: string | undefined;
    while (!stop.signal.aborted) {
      try {
        const stream = await openEventStream(client, { resourceIds: resourceId ? [resourceId] : undefined }, { lastEventId, signal: stop.signal });
        streaming = true;
        for await (const event of stream.events) {
          lastEventId = event.sseId ?? lastEventId;
          if (isOperationEvent(event) && (event.operation_id === operationId || event.data.id === operationId)) offer(event.data);
        }
        streaming = false;
        if (!stop.signal.aborted) await sleep(stream.retryMs() ?? 1000, undefined, { signal: stop.signal });
      } catch (err) {
        streaming = false;
        if (stop.signal.aborted) return;
        // No stream on this server (or it refuses us): polling alone will do.
        if (err instanceof ApiError) return;
        await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    }
  };

  const pollTask = async () => {
    let unreachableSince: number | undefined;
    while (!stop.signal.aborted) {
      try {
        offer(await client.getOperation(operationId));
        unreachableSince = undefined;
      } catch (err) {
        if (stop.signal.aborted) return;
        if (!(err instanceof UnreachableError)) return fail(err);
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > (opts.unreachableForMs ?? 30_000)) return fail(err);
      }
      if (latest?.done) return;
      await sleep(streaming ? opts.slowPollMs ?? 2000 : opts.fastPollMs ?? 500, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  };

  const aborted = new Promise<never>((_, reject) => {
    const rejectAbort = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    if (opts.signal?.aborted) rejectAbort();
    opts.signal?.addEventListener('abort', rejectAbort, { once: true });
  });
  void streamTask().catch(() => undefined);
  void pollTask();
  try {
    return await Promise.race([finished, aborted]);
  } finally {
    stop.abort();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
