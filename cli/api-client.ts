import type {
  Environment, EnvironmentCreate, EnvironmentPatch, Operation, SecurityGroup, SecurityGroupCreate, SecurityGroupPatch,
  Simulation, SimulationPatch, Vm, VmCreate, VmPatch, Volume, VolumeCreate, VolumePatch,
} from '../core/api.js';
import { ApiError, UnreachableError, isNetworkError } from './errors.js';
import { readText, send } from './http.js';

// The CLI's HTTP client: JSON in, API objects out, problems turned into ApiError and "no answer"
// into UnreachableError. It knows nothing of flags or environment variables: the command layer
// hands it the endpoint and token.

export interface ResourceTypes {
  env: { item: Environment; create: EnvironmentCreate; patch: EnvironmentPatch };
  sg: { item: SecurityGroup; create: SecurityGroupCreate; patch: SecurityGroupPatch };
  vm: { item: Vm; create: VmCreate; patch: VmPatch };
  volume: { item: Volume; create: VolumeCreate; patch: VolumePatch };
}
export type ResourceKind = keyof ResourceTypes;
export type Item<K extends ResourceKind> = ResourceTypes[K]['item'];

export const RESOURCES: Record<ResourceKind, { path: string; prefix: string; noun: string; async: boolean }> = {
  env: { path: '/api/v1/environments', prefix: 'env-', noun: 'environment', async: false },
  sg: { path: '/api/v1/security-groups', prefix: 'sg-', noun: 'security group', async: false },
  vm: { path: '/api/v1/vms', prefix: 'vm-', noun: 'VM', async: true },
  volume: { path: '/api/v1/volumes', prefix: 'vol-', noun: 'volume', async: true },
};

export type Query = Record<string, string | number | undefined | string[]>;

export interface ListPage<T> {
  items: T[];
  next_page_token?: string;
}

/** What an async request answered: the resource in its transitional state and the operation it started. */
export interface Accepted<T> {
  status: number;
  resource: T;
  operationId: string | undefined;
}

export interface ClientOptions {
  endpoint: string;
  token?: string;
  /** Sent as User-Agent; handy in server logs. */
  userAgent?: string;
  /** The project the deployment admin acts in (`Mockcloud-Project`); tokens carry their own. */
  project?: string;
}

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export class ApiClient {
  readonly endpoint: string;
  /**
   * Every resource name the client has seen, by ID: tables, progress lines and errors show the
   * name the user typed next to the ID the server speaks in.
   */
  readonly names = new Map<string, string>();
  private readonly token: string | undefined;
  private readonly userAgent: string;
  private readonly project: string | undefined;

  constructor(opts: ClientOptions) {
    this.project = opts.project || undefined;
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    this.token = opts.token || undefined;
    this.userAgent = opts.userAgent ?? 'mockcloud-cli';
  }

  url(path: string, query?: Query): string {
    const qs = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) qs.append(key, String(v));
    }
    const s = qs.toString();
    return `${this.endpoint}${path}${s ? `${path.includes('?') ? '&' : '?'}${s}` : ''}`;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      accept: 'application/json, application/problem+json',
      'user-agent': this.userAgent,
      ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      ...(this.project ? { 'mockcloud-project': this.project } : {}),
      ...extra,
    };
  }

  async call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, opts: { query?: Query; body?: unknown; contentType?: string } = {}): Promise<RawReply> {
    const headers = this.headers(opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {});
    let res;
    let text;
    try {
      res = await send(this.url(path, opts.query), { method, headers, body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined });
      text = await readText(res);
    } catch (err) {
      if (isNetworkError(err)) throw new UnreachableError(this.endpoint, err);
      throw err;
    }
    const status = res.statusCode ?? 0;
    const type = String(res.headers['content-type'] ?? '');
    let body: unknown = undefined;
    if (text && /json/.test(type)) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (status >= 400) throw withNames(toApiError(status, body, text), this.names);
    this.remember(body);
    return { status, headers: res.headers, body };
  }

  private remember(body: unknown): void {
    const b = body as { id?: unknown; name?: unknown; items?: unknown } | undefined;
    if (typeof b?.id === 'string' && typeof b.name === 'string') this.names.set(b.id, b.name);
    if (Array.isArray(b?.items)) for (const item of b.items) this.remember(item);
  }

  /** The name when known, else the ID. */
  nameOf(id: string | null | undefined): string {
    return id ? this.names.get(id) ?? id : '';
  }

  /** `env-123 (demo)` when the name is known, else the ID alone. */
  label(id: string | null | undefined): string {
    if (!id) return '';
    const name = this.names.get(id);
    return name && name !== id ? `${id} (${name})` : id;
  }

  /**
   * `mockcloud api`: any request, any answer. Unlike call(), an HTTP error status is a reply to
   * show, not an error; only "no answer at all" throws.
   */
  async raw(method: string, path: string, opts: { query?: Query; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    try {
      const res = await send(this.url(path, opts.query), { method, headers: this.headers(opts.headers), body: opts.body });
      return { status: res.statusCode ?? 0, headers: res.headers, text: await readText(res) };
    } catch (err) {
      if (isNetworkError(err)) throw new UnreachableError(this.endpoint, err);
      throw err;
    }
  }

  // --- resources -------------------------------------------------------------------------------

  async list<K extends ResourceKind>(kind: K, query: Query = {}): Promise<ListPage<Item<K>>> {
    return (await this.call('GET', RESOURCES[kind].path, { query })).body as ListPage<Item<K>>;
  }

  /** Every page, following next_page_token, up to `max` items. */
  async listAll<K extends ResourceKind>(kind: K, query: Query = {}, max = Infinity): Promise<Item<K>[]> {
    return collect((q) => this.list(kind, q), query, max);
  }

  async get<K extends ResourceKind>(kind: K, id: string): Promise<Item<K>> {
    return (await this.call('GET', `${RESOURCES[kind].path}/${encodeURIComponent(id)}`)).body as Item<K>;
  }

  async create<K extends ResourceKind>(kind: K, body: ResourceTypes[K]['create']): Promise<Accepted<Item<K>>> {
    return accepted(await this.call('POST', RESOURCES[kind].path, { body }));
  }

  async update<K extends ResourceKind>(kind: K, id: string, patch: ResourceTypes[K]['patch']): Promise<Accepted<Item<K>>> {
    return accepted(await this.call('PATCH', `${RESOURCES[kind].path}/${encodeURIComponent(id)}`, { body: patch, contentType: 'application/merge-patch+json' }));
  }

  /** 204 for sync resources (resource undefined), 202 with the resource for async ones. */
  async remove<K extends ResourceKind>(kind: K, id: string): Promise<Accepted<Item<K> | undefined>> {
    return accepted(await this.call('DELETE', `${RESOURCES[kind].path}/${encodeURIComponent(id)}`));
  }

  async vmAction(id: string, action: 'start' | 'stop' | 'reboot'): Promise<Accepted<Vm>> {
    return accepted(await this.call('POST', `/api/v1/vms/${encodeURIComponent(id)}/${action}`));
  }

  async attachVolume(volumeId: string, vmId: string): Promise<Accepted<Volume>> {
    return accepted(await this.call('POST', `/api/v1/volumes/${encodeURIComponent(volumeId)}/attach/${encodeURIComponent(vmId)}`));
  }

  async detachVolume(volumeId: string): Promise<Accepted<Volume>> {
    return accepted(await this.call('POST', `/api/v1/volumes/${encodeURIComponent(volumeId)}/detach`));
  }

  // --- operations, simulation --------------------------------------------------------------------

  async getOperation(id: string): Promise<Operation> {
    return (await this.call('GET', `/api/v1/operations/${encodeURIComponent(id)}`)).body as Operation;
  }

  async listOperations(query: Query = {}, max = Infinity): Promise<Operation[]> {
    return collect(async (q) => (await this.call('GET', '/api/v1/operations', { query: q })).body as ListPage<Operation>, query, max);
  }

  async getSimulation(): Promise<Simulation> {
    return (await this.call('GET', '/api/v1/simulation')).body as Simulation;
  }

  async updateSimulation(patch: SimulationPatch): Promise<Simulation> {
    return (await this.call('PATCH', '/api/v1/simulation', { body: patch, contentType: 'application/merge-patch+json' })).body as Simulation;
  }
}

async function collect<T>(page: (q: Query) => Promise<ListPage<T>>, query: Query, max: number): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  do {
    const limit = Math.min(500, max - items.length);
    const res = await page({ ...query, limit, page_token: token });
    items.push(...res.items);
    token = res.next_page_token || undefined;
  } while (token && items.length < max);
  return items.slice(0, max);
}

function accepted<T>(reply: RawReply): Accepted<T> {
  const loc = reply.headers['operation-location'];
  const fromHeader = typeof loc === 'string' ? loc.split('/').pop() : undefined;
  const body = reply.body as (T & { operation_id?: string | null }) | undefined;
  const fromBody = reply.status === 202 ? body?.operation_id ?? undefined : undefined;
  return { status: reply.status, resource: body as T, operationId: fromHeader || fromBody };
}

/** Adds known names after the IDs an error message mentions (the server speaks only in IDs). */
export function withNames<E extends Error>(err: E, names: Map<string, string>): E {
  if (names.size === 0) return err;
  err.message = err.message.replace(/\b(?:env|sg|vm|vol|op)-[a-z0-9]+\b/g, (id) => (names.has(id) && names.get(id) !== id ? `${id} (${names.get(id)})` : id));
  return err;
}

function toApiError(status: number, body: unknown, text: string): ApiError {
  const p = body as { title?: unknown; code?: unknown } | undefined;
  if (p && typeof p.title === 'string' && typeof p.code === 'string') return new ApiError(status, body as ApiError['problem']);
  const detail = text.trim().slice(0, 200) || undefined;
  return new ApiError(status, { title: `HTTP ${status}`, code: status >= 500 ? 'internal_error' : 'unexpected_response' as never, detail, status, type: 'about:blank' });
}
