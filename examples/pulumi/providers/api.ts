// HTTP plumbing shared by the mockcloud dynamic providers.
//
// Pulumi serializes each provider (and every function its methods reach) into the resource's state
// and re-evaluates that text in a separate provider host, long after this module was loaded. So this
// file imports nothing at run time and only touches globals (fetch, crypto, setTimeout, process):
// an imported binding would be deep-copied or lost, and a value read at module load would freeze the
// endpoint of whichever machine ran the preview. Settings are resolved at the start of every call.

import type * as pulumi from '@pulumi/pulumi';

/** What `pulumi config` may set: `mockcloud:endpoint`, `mockcloud:token`, `mockcloud:waitTimeout`. */
export interface ProviderSettings {
  endpoint?: string;
  token?: string;
  waitTimeoutSeconds?: number;
}

export interface Connection {
  endpoint: string;
  token?: string;
  /** How long a create/update/delete may wait for an asynchronous resource to settle. */
  waitTimeoutMs: number;
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

/** The value Pulumi puts in place of an output that is not known yet (during a preview). */
export const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';

const DEFAULT_ENDPOINT = 'http://localhost:8000';
const DEFAULT_WAIT_TIMEOUT_S = 600;
const ATTEMPTS = 5;

export function settingsFrom(config: pulumi.dynamic.Config): ProviderSettings {
  const timeout = config.get('mockcloud:waitTimeout');
  return {
    endpoint: config.get('mockcloud:endpoint'),
    token: config.get('mockcloud:token'),
    waitTimeoutSeconds: timeout === undefined ? undefined : Number(timeout),
  };
}

/** Stack configuration (from `configure`) wins, then the environment, then the default. */
export function connect(settings: ProviderSettings | undefined): Connection {
  const env = process.env;
  const endpoint = (settings?.endpoint || env.MOCKCLOUD_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const token = settings?.token || env.MOCKCLOUD_TOKEN || undefined;
  const seconds = settings?.waitTimeoutSeconds ?? (env.MOCKCLOUD_WAIT_TIMEOUT ? Number(env.MOCKCLOUD_WAIT_TIMEOUT) : DEFAULT_WAIT_TIMEOUT_S);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`mockcloud: the wait timeout must be a positive number of seconds (got ${seconds})`);
  return { endpoint, token, waitTimeoutMs: seconds * 1000 };
}

export const newIdempotencyKey = (): string => globalThis.crypto.randomUUID();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An Error that carries the API's problem `code` and HTTP status, for callers and for Pulumi's output. */
export function apiError(message: string, fields: { code?: string; status?: number }): Error & { code?: string; status?: number } {
  return Object.assign(new Error(message), fields);
}

export interface RequestOptions {
  body?: unknown;
  /** Sent on POST/PATCH and reused across this call's own retries, so a retried create replays. */
  idempotencyKey?: string;
  contentType?: string;
  /** Statuses handed back to the caller; anything else becomes an Error with the problem's code. */
  expect: number[];
}

/**
 * One API call, retried on a dropped connection, 429 and 502–504 (honouring Retry-After). Retrying a
 * POST is only safe because it carries the same Idempotency-Key on every attempt.
 */
export async function request(conn: Connection, method: string, path: string, opts: RequestOptions): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
  let lastFailure = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    let res: Response;
    try {
      res = await fetch(conn.endpoint + path, { method, headers, body });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      lastFailure = `${(err as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
      await sleep(100 * 2 ** attempt);
      continue;
    }
    const text = await res.text();
    let parsed: any = undefined;
    if (text && /json/.test(res.headers.get('content-type') ?? '')) parsed = JSON.parse(text);
    if ([429, 502, 503, 504].includes(res.status) && attempt < ATTEMPTS) {
      const retryAfter = Number(res.headers.get('retry-after'));
      lastFailure = `${res.status} ${parsed?.code ?? ''}`.trim();
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : 200 * 2 ** attempt);
      continue;
    }
    if (!opts.expect.includes(res.status)) {
      const code = parsed?.code as string | undefined;
      const detail = parsed?.detail ?? parsed?.title ?? (text.slice(0, 200) || 'no body');
      throw apiError(`mockcloud: ${method} ${path} answered ${res.status}${code ? ` ${code}` : ''}: ${detail}`, { code, status: res.status });
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }
  throw apiError(`mockcloud: ${method} ${conn.endpoint}${path} failed after ${ATTEMPTS} attempts: ${lastFailure}`, { code: 'unreachable' });
}

/** GET a resource; undefined once it is gone. */
export async function fetchResource(conn: Connection, path: string): Promise<any | undefined> {
  const r = await request(conn, 'GET', path, { expect: [200, 404] });
  return r.status === 404 ? undefined : r.body;
}

export interface WaitOptions {
  /** Settled states that end the wait successfully. */
  until: string[];
  /** What is being waited for, for messages: "VM vm-123 to be running". */
  what: string;
}

/**
 * Polls an asynchronous resource until it reaches one of `until`. A resource in `error` rejects with
 * the API's error code and message; running out of time rejects with the state it was left in.
 */
export async function waitForStatus(conn: Connection, path: string, opts: WaitOptions): Promise<any> {
  const deadline = Date.now() + conn.waitTimeoutMs;
  let every = 50;
  for (;;) {
    const res = await fetchResource(conn, path);
    if (res === undefined) throw apiError(`mockcloud: ${opts.what}: it no longer exists`, { code: 'not_found', status: 404 });
    if (opts.until.includes(res.status)) return res;
    if (res.status === 'error') {
      const code = res.error?.code ?? 'provisioning_failed';
      throw Object.assign(apiError(`mockcloud: ${opts.what}: failed with ${code}: ${res.error?.message ?? 'no message'}`, { code }), { resource: res });
    }
    if (Date.now() > deadline) {
      throw Object.assign(
        apiError(`mockcloud: timed out after ${conn.waitTimeoutMs / 1000}s waiting for ${opts.what} (still ${res.status}, ${res.progress ?? 0}%)`, { code: 'timeout' }),
        { resource: res },
      );
    }
    await sleep(every);
    every = Math.min(every * 1.5, 2000);
  }
}

/**
 * The property bag the engine stores for a create that outlived its wait (ErrorResourceInitFailed):
 * the host loads the provider's code from `__provider` of whatever bag it is handed next (refresh,
 * destroy, a replacement's delete), so a partial state without it can never be read or deleted.
 */
export function partialState<T extends object>(inputs: unknown, outputs: T): T & { __provider?: string } {
  const provider = (inputs as { __provider?: string } | undefined)?.__provider;
  return provider === undefined ? outputs : { ...outputs, __provider: provider };
}

/**
 * DELETE then poll until the resource answers 404. Already gone counts as done. A resource still
 * in a transitional state (a create that outlived its wait) refuses deletion with 409 invalid_state:
 * wait for it to settle, within the same deadline, and delete it then.
 */
export async function deleteAndWait(conn: Connection, path: string, what: string): Promise<void> {
  const deadline = Date.now() + conn.waitTimeoutMs;
  let every = 50;
  let r = await request(conn, 'DELETE', path, { expect: [202, 204, 404, 409] });
  while (r.status === 409) {
    if (r.body?.code !== 'invalid_state') {
      throw apiError(`mockcloud: DELETE ${path} answered 409 ${r.body?.code ?? ''}: ${r.body?.detail ?? ''}`, { code: r.body?.code, status: 409 });
    }
    if (Date.now() > deadline) throw apiError(`mockcloud: timed out after ${conn.waitTimeoutMs / 1000}s waiting for ${what} to settle before deleting it`, { code: 'timeout' });
    await sleep(every);
    every = Math.min(every * 1.5, 2000);
    r = await request(conn, 'DELETE', path, { expect: [202, 204, 404, 409] });
  }
  if (r.status !== 202) return;
  every = 50;
  for (;;) {
    const res = await fetchResource(conn, path);
    if (res === undefined) return;
    if (res.status !== 'deleting') {
      throw apiError(`mockcloud: deleting ${what} did not complete: it is ${res.status}${res.error ? ` (${res.error.code}: ${res.error.message})` : ''}`, {
        code: res.error?.code ?? 'invalid_state',
      });
    }
    if (Date.now() > deadline) throw apiError(`mockcloud: timed out after ${conn.waitTimeoutMs / 1000}s waiting for ${what} to be deleted`, { code: 'timeout' });
    await sleep(every);
    every = Math.min(every * 1.5, 2000);
  }
}

/** Structural equality for JSON values; object key order does not matter, array order does. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as any)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as any)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameValue((a as any)[k], (b as any)[k]));
  }
  return false;
}

/** The merge patch that turns tags `olds` into `news`: removed keys become null. */
export function tagsPatch(olds: Record<string, string> | undefined, news: Record<string, string> | undefined): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const k of Object.keys(olds ?? {})) if (!(news && k in news)) patch[k] = null;
  for (const [k, v] of Object.entries(news ?? {})) if (olds?.[k] !== v) patch[k] = v;
  return patch;
}

export interface DiffSpec {
  /** Inputs compared between the recorded outputs and the new inputs. */
  fields: string[];
  /** Fields the API refuses to change (422 immutable_field): a change means replacement. */
  immutable: string[];
  /** The field that scopes name uniqueness (environmentId), or undefined for project scope. */
  scope?: string;
}

/**
 * The engine's diff: which inputs changed, which of those force a replacement, and whether the
 * replacement must delete first because the new resource would take the same name in the same scope
 * (the API answers 409 already_exists to a second one).
 */
export function diffInputs(olds: Record<string, any>, news: Record<string, any>, spec: DiffSpec): pulumi.dynamic.DiffResult {
  const changed = spec.fields.filter((f) => news[f] === UNKNOWN || !sameValue(olds[f], news[f]));
  const replaces = changed.filter((f) => spec.immutable.includes(f));
  const sameScope = spec.scope === undefined || olds[spec.scope] === news[spec.scope];
  return {
    changes: changed.length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0 && olds.name === news.name && sameScope,
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Validation shared by every resource's check. Values not known yet (previews) are skipped. */
export const validate = {
  known: (v: unknown) => v !== undefined && v !== UNKNOWN,
  name(failures: pulumi.dynamic.CheckFailure[], v: unknown): void {
    if (v === UNKNOWN) return;
    if (typeof v !== 'string' || v.length < 1 || v.length > 63 || !NAME.test(v)) {
      failures.push({ property: 'name', reason: 'must be 1–63 letters, digits, ".", "_" or "-", starting with a letter or digit' });
    }
  },
  id(failures: pulumi.dynamic.CheckFailure[], property: string, v: unknown, prefix: string): void {
    if (v === UNKNOWN) return;
    if (typeof v !== 'string' || !v.startsWith(prefix)) failures.push({ property, reason: `must be a mockcloud id (${prefix}…)` });
  },
  cidr(failures: pulumi.dynamic.CheckFailure[], property: string, v: unknown, minPrefix = 0, maxPrefix = 32): void {
    if (v === UNKNOWN) return;
    const m = typeof v === 'string' ? CIDR.exec(v) : null;
    const ok = m !== null && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) >= minPrefix && Number(m[5]) <= maxPrefix;
    if (!ok) failures.push({ property, reason: `must be an IPv4 CIDR with a prefix between /${minPrefix} and /${maxPrefix}` });
  },
  oneOf(failures: pulumi.dynamic.CheckFailure[], property: string, v: unknown, allowed: string[]): void {
    if (v === UNKNOWN) return;
    if (typeof v !== 'string' || !allowed.includes(v)) failures.push({ property, reason: `must be one of ${allowed.join(', ')}` });
  },
  tags(failures: pulumi.dynamic.CheckFailure[], v: unknown): void {
    if (v === undefined || v === UNKNOWN) return;
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      failures.push({ property: 'tags', reason: 'must be a map of strings' });
      return;
    }
    const entries = Object.entries(v);
    if (entries.length > 50) failures.push({ property: 'tags', reason: 'at most 50 tags' });
    for (const [k, val] of entries) {
      if (val === UNKNOWN) continue;
      if (typeof val !== 'string' || k.length > 127 || val.length > 255) failures.push({ property: `tags.${k}`, reason: 'keys ≤ 127 and values ≤ 255 characters, strings only' });
    }
  },
};
