import { client, uniq, type Client, type RequestOptions } from './http.js';
import type { TestApi } from './stack.js';

// Test fixtures for SPEC §10: a client that sends a bearer token (and the admin's project choice),
// and a small world of two projects with a member of every role.

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function authed(baseUrl: string, token: string | undefined, project?: string): Client {
  const base = client(baseUrl);
  const extra: Record<string, string> = {};
  if (token !== undefined) extra.authorization = `Bearer ${token}`;
  if (project) extra['mockcloud-project'] = project;
  const call = <T = any>(method: string, path: string, opts: RequestOptions = {}) => base.call<T>(method, path, { ...opts, headers: { ...extra, ...opts.headers } });
  return {
    call,
    get: (path, opts) => call('GET', path, opts),
    post: (path, body, opts) => call('POST', path, { ...opts, body }),
    patch: (path, body, opts) => call('PATCH', path, { contentType: 'application/merge-patch+json', ...opts, body }),
    del: (path, opts) => call('DELETE', path, opts),
  };
}

export interface World {
  admin: Client;
  /** The admin acting in project P. */
  adminP: Client;
  p: string;
  q: string;
  users: { viewer: string; editor: string; owner: string; otherOwner: string };
  tokens: { viewer: string; editor: string; owner: string; other: string; expired: string; revoked: string };
  tokenIds: Record<string, string>;
}

const must = async <T = any>(p: Promise<{ status: number; body: T; text: string }>, status: number): Promise<T> => {
  const r = await p;
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
  return r.body;
};

/** Projects P and Q; in P a viewer, an editor and an owner; in Q an owner; tokens for each, one expired and one revoked. */
export async function buildWorld(api: TestApi): Promise<World> {
  const admin = authed(api.baseUrl, ADMIN_TOKEN);
  const user = async () => (await must(admin.post('/api/v1/users', { name: uniq('u') }), 201)).id as string;
  const users = { viewer: await user(), editor: await user(), owner: await user(), otherOwner: await user() };
  const p = (await must(admin.post('/api/v1/projects', { name: uniq('p'), owner_id: users.owner }), 201)).id as string;
  const q = (await must(admin.post('/api/v1/projects', { name: uniq('q'), owner_id: users.otherOwner }), 201)).id as string;
  await must(admin.call('PUT', `/api/v1/projects/${p}/members/${users.viewer}`, { body: { role: 'viewer' } }), 201);
  await must(admin.call('PUT', `/api/v1/projects/${p}/members/${users.editor}`, { body: { role: 'editor' } }), 201);
  const tokenIds: Record<string, string> = {};
  const token = async (key: string, project: string, userId: string, scopes: string[]) => {
    const t = await must(admin.post('/api/v1/tokens', { name: key, project_id: project, user_id: userId, scopes }), 201);
    tokenIds[key] = t.id;
    return t.secret as string;
  };
  const tokens = {
    viewer: await token('viewer', p, users.viewer, ['*:read']),
    editor: await token('editor', p, users.editor, ['*:write']),
    owner: await token('owner', p, users.owner, ['*:write']),
    other: await token('other', q, users.otherOwner, ['*:write']),
    expired: await token('expired', p, users.owner, ['*:write']),
    revoked: await token('revoked', p, users.owner, ['*:write']),
  };
  await api.db('api_tokens').where({ id: tokenIds.expired }).update({ expires_ms: Date.now() - 1000, expires_at: new Date(Date.now() - 1000).toISOString() });
  await must(admin.del(`/api/v1/tokens/${tokenIds.revoked}`), 204);
  return { admin, adminP: authed(api.baseUrl, ADMIN_TOKEN, p), p, q, users, tokens, tokenIds };
}
