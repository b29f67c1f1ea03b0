import type { Operation } from '../core/api.js';
import type { ApiClient } from './api-client.js';
import { ApiError, UnreachableError, isNetworkError } from './errors.js';
import { readText, send } from './http.js';

// Client side of GET /api/v1/events (Server-Sent Events). The parser is separate from the transport
// so it can be tested with hand-written chunks.

export type EventType =
  | 'operation.progress' | 'operation.succeeded' | 'operation.failed'
  | 'vm.status' | 'volume.status'
  | 'environment.created' | 'environment.updated' | 'environment.deleted'
  | 'security_group.created' | 'security_group.updated' | 'security_group.deleted';

/** The JSON in an event's `data:` field. `data` is the Operation for operation.*, else the resource. */
export interface CloudEvent {
  seq: number;
  type: EventType | string;
  resource_type: string;
  resource_id: string;
  environment_id?: string | null;
  operation_id?: string | null;
  kind?: string | null;
  created_at: string;
  data: Record<string, unknown>;
}

export function isOperationEvent(e: CloudEvent): e is CloudEvent & { data: Operation } {
  return e.type.startsWith('operation.');
}

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Incremental text/event-stream parser (WHATWG rules: id/event/data/retry fields, comments ignored). */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  /** The last `retry:` the server asked for, in ms. */
  retryMs: number | undefined;

  feed(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      const sepLen = this.buffer.startsWith('\r\n', nl) ? 2 : 1;
      this.buffer = this.buffer.slice(nl + sepLen);
      if (line === '') {
        if (this.data.length > 0) out.push({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
        this.data = [];
        this.event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    return out;
  }
}

export interface EventFilter {
  resourceIds?: string[];
  environmentId?: string;
  kind?: string;
}

export interface EventStream {
  /** Resolves once the server answered 200 (rejects with ApiError / UnreachableError otherwise). */
  events: AsyncGenerator<CloudEvent & { sseId?: string }>;
  retryMs(): number | undefined;
}

/**
 * Opens the stream and yields events until the server closes it or `signal` aborts. Throws
 * UnreachableError / ApiError when it cannot open; the caller decides whether to reconnect.
 */
export async function openEventStream(client: ApiClient, filter: EventFilter, opts: { lastEventId?: string; signal?: AbortSignal } = {}): Promise<EventStream> {
  const url = client.url('/api/v1/events', {
    resource_id: filter.resourceIds?.length ? filter.resourceIds : undefined,
    environment_id: filter.environmentId,
    kind: filter.kind,
  });
  let res;
  try {
    // An SSE stream is quiet between events (keepalives every 15 s): no read timeout on our side.
    res = await send(url, {
      method: 'GET',
      headers: client.headers({ accept: 'text/event-stream', ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}) }),
      signal: opts.signal,
    });
  } catch (err) {
    if (isNetworkError(err)) throw new UnreachableError(client.endpoint, err);
    throw err;
  }
  if (res.statusCode !== 200) {
    const text = await readText(res).catch(() => '');
    let problem: ApiError['problem'] | undefined;
    try {
      problem = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.statusCode ?? 0, problem?.code ? problem : { title: `HTTP ${res.statusCode}`, code: 'unavailable', detail: 'the server has no event stream' });
  }
  const parser = new SseParser();
  const body = res;
  body.setEncoding('utf8');
  async function* events() {
    try {
      for await (const chunk of body) {
        for (const msg of parser.feed(chunk as string)) {
          let parsed: CloudEvent;
          try {
            parsed = JSON.parse(msg.data) as CloudEvent;
          } catch {
            continue;
          }
          if (!parsed.type) parsed.type = msg.event;
          yield { ...parsed, sseId: msg.id ?? (parsed.seq !== undefined ? String(parsed.seq) : undefined) };
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (isNetworkError(err) || (err as Error).name === 'AbortError' || (err as { code?: string }).code?.startsWith('UND_ERR')) return;
      throw err;
    } finally {
      body.destroy();
    }
  }
  return { events: events(), retryMs: () => parser.retryMs };
}
