import { createHash } from 'node:crypto';
import type { Db } from '../db.js';
import { isUniqueViolation } from '../db.js';
import { AppError } from '../errors.js';

// Idempotency-Key (SPEC §4), kept in the database so it holds across API replicas. The first request
// with a key records "in flight"; its response (errors included) is stored before it is sent; a
// retry with the same key and body replays it, another body is refused, and a retry while the first
// is still running is told to come back.

export const KEEP_MS = 24 * 3600 * 1000;
/**
 * An in-flight request's process renews its record every HEARTBEAT_MS while the request runs; a
 * record not renewed for ABANDONED_MS belongs to a process that died, and its key may be reused. A
 * slow request that is still running is therefore never taken over, however long it takes.
 */
export const HEARTBEAT_MS = 15_000;
export const ABANDONED_MS = 60_000;

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Begin = { kind: 'proceed' } | { kind: 'replay'; response: StoredResponse };

/**
 * Same request, same fingerprint: object keys are sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}`
 * (the same JSON merge patch) are one request. Bodies reach this only after server/guards.ts has
 * bounded their depth, so the recursion is shallow.
 */
export const fingerprint = (method: string, path: string, body: unknown) =>
  createHash('sha256').update(`${method} ${path}\n${canonicalJson(body ?? null)}`).digest('hex');

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

interface Row {
  project_id: string;
  key: string;
  fingerprint: string;
  state: 'in_flight' | 'done';
  status: number | null;
  headers: string | null;
  body: string | null;
  created_at: string;
  expires_ms: number;
}

export class IdempotencyStore {
  constructor(
    private readonly db: Db,
    private readonly clock: () => number = Date.now,
  ) {}

  async begin(projectId: string, key: string, print: string): Promise<Begin> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.clock();
      try {
        // created_at doubles as the in-flight record's last sign of life (see heartbeat).
        await this.db('idempotency_keys').insert({ project_id: projectId, key, fingerprint: print, state: 'in_flight', created_at: new Date(now).toISOString(), expires_ms: now + KEEP_MS });
        return { kind: 'proceed' };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      const row = (await this.db<Row>('idempotency_keys').where({ project_id: projectId, key }).first()) as Row | undefined;
      if (!row) continue; // removed meanwhile: try again
      const abandoned = row.state === 'in_flight' && now - Date.parse(row.created_at) > ABANDONED_MS;
      if (row.expires_ms < now || abandoned) {
        await this.db('idempotency_keys').where({ project_id: projectId, key, created_at: row.created_at }).delete();
        continue;
      }
      if (row.fingerprint !== print) {
        throw new AppError('idempotency_key_reused', `Idempotency-Key "${key}" was used for a different request; use a new key for a new request`);
      }
      if (row.state === 'in_flight') {
        throw new AppError('idempotency_key_in_flight', `a request with Idempotency-Key "${key}" is still being processed; retry shortly`, { retryAfter: 1 });
      }
      return { kind: 'replay', response: { status: row.status!, headers: JSON.parse(row.headers ?? '{}') as Record<string, string>, body: row.body ?? '' } };
    }
    throw new AppError('idempotency_key_in_flight', `Idempotency-Key "${key}" is contended; retry shortly`, { retryAfter: 1 });
  }

  /** The request holding the key is still running: keep others from taking the key over. */
  async heartbeat(projectId: string, key: string): Promise<void> {
    await this.db('idempotency_keys').where({ project_id: projectId, key, state: 'in_flight' }).update({ created_at: new Date(this.clock()).toISOString() });
  }

  async complete(projectId: string, key: string, response: StoredResponse): Promise<void> {
    await this.db('idempotency_keys')
      .where({ project_id: projectId, key, state: 'in_flight' })
      .update({ state: 'done', status: response.status, headers: JSON.stringify(response.headers), body: response.body });
  }

  /** The request failed on our side (5xx): forget the key so a retry runs again. */
  async abandon(projectId: string, key: string): Promise<void> {
    await this.db('idempotency_keys').where({ project_id: projectId, key, state: 'in_flight' }).delete();
  }
}
