import { expect } from 'chai';
import fs from 'node:fs';
import YAML from 'yaml';
import { openapiPath } from '../../core/paths.js';
import { specOperations, type SpecOperation } from '../../server/access.js';
import { ADMIN_TOKEN, authed, buildWorld, type World } from '../support/auth.js';
import { uniq, type Client } from '../support/http.js';
import { startTestApi, type TestApi } from '../support/stack.js';
import { settle } from '../support/wait.js';

// The access matrix of SPEC §10, generated from openapi.yaml: every operationId × every kind of
// caller, in enforce mode, asserting the exact status. The expected status follows from the
// operation's `x-required-scope` and the rules below (written out here, not imported, so the test
// states the policy independently of the code). Operations with a request recipe below are asserted
// exactly on every row; an operation without one (added later by someone else) still gets its
// denial rows asserted exactly and its allowed rows asserted to be neither 401 nor 403.

type Who = 'none' | 'viewer' | 'editor' | 'owner' | 'other' | 'admin' | 'expired' | 'revoked';
const WHO: Who[] = ['none', 'expired', 'revoked', 'viewer', 'other', 'editor', 'owner', 'admin'];

interface Req {
  method?: string;
  path: string;
  body?: unknown;
}
interface Recipe {
  /** Builds fresh state in project P (as the admin) and the request to send. */
  make: (a: Fixtures, who: Who) => Promise<Req> | Req;
  ok: number;
  /** Status for the owner of another project; default: 404 when the path names one of P's resources, else `ok`. */
  other?: number;
}

const roleOf: Partial<Record<Who, 'viewer' | 'editor' | 'owner'>> = { viewer: 'viewer', editor: 'editor', owner: 'owner', other: 'owner' };

/** SPEC §10: viewer reads, editor reads and writes, owner also manages members and reads the audit log; `admin` only the admin. */
function allowed(who: Who, scope: string): boolean {
  if (who === 'admin') return true;
  const role = roleOf[who];
  if (!role) return false;
  if (scope === 'none') return true;
  if (scope === 'admin') return false;
  if (role === 'owner') return true;
  if (scope === 'members:write' || scope === 'audit:read') return false;
  return role === 'editor' || scope.endsWith(':read');
}

class Fixtures {
  constructor(readonly http: Client, readonly w: World) {}
  async env(): Promise<string> {
    return (await this.http.post('/api/v1/environments', { name: uniq('env'), cidr: '10.0.0.0/24' })).body.id;
  }
  async sg(): Promise<string> {
    return (await this.http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: await this.env() })).body.id;
  }
  async vm(state: 'running' | 'stopped' = 'running', env?: string): Promise<{ id: string; op: string; env: string }> {
    env ??= await this.env();
    const vm = (await this.http.post('/api/v1/vms', { name: uniq('vm'), environment_id: env, size: 'small', image: 'debian-12' })).body;
    await settle(this.http, vm.operation_id);
    if (state === 'stopped') await settle(this.http, (await this.http.post(`/api/v1/vms/${vm.id}/stop`)).body.operation_id);
    return { id: vm.id, op: vm.operation_id, env };
  }
  async volume(env?: string): Promise<string> {
    env ??= await this.env();
    const vol = (await this.http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: env, size_gb: 1 })).body;
    await settle(this.http, vol.operation_id);
    return vol.id;
  }
  async attached(): Promise<string> {
    const vm = await this.vm();
    const vol = await this.volume(vm.env);
    await settle(this.http, (await this.http.post(`/api/v1/volumes/${vol}/attach/${vm.id}`)).body.operation_id);
    return vol;
  }
}

const RECIPES: Record<string, Recipe> = {
  listEnvironments: { make: () => ({ path: '/api/v1/environments' }), ok: 200 },
  // Scoped to a throwaway environment: an unscoped reset by the admin row would empty the deployment under the other tests.
  resetEmulator: { make: async (f) => ({ method: 'POST', path: '/api/v1/admin/reset', body: { environment_id: await f.env() } }), ok: 200 },
  createEnvironment: { make: () => ({ method: 'POST', path: '/api/v1/environments', body: { name: uniq('env') } }), ok: 201 },
  getEnvironment: { make: async (f) => ({ path: `/api/v1/environments/${await f.env()}` }), ok: 200 },
  updateEnvironment: { make: async (f) => ({ method: 'PATCH', path: `/api/v1/environments/${await f.env()}`, body: { tags: { a: 'b' } } }), ok: 200 },
  deleteEnvironment: { make: async (f) => ({ method: 'DELETE', path: `/api/v1/environments/${await f.env()}` }), ok: 204 },
  listSecurityGroups: { make: () => ({ path: '/api/v1/security-groups' }), ok: 200 },
  createSecurityGroup: { make: async (f) => ({ method: 'POST', path: '/api/v1/security-groups', body: { name: uniq('sg'), environment_id: await f.env() } }), ok: 201, other: 422 },
  getSecurityGroup: { make: async (f) => ({ path: `/api/v1/security-groups/${await f.sg()}` }), ok: 200 },
  updateSecurityGroup: { make: async (f) => ({ method: 'PATCH', path: `/api/v1/security-groups/${await f.sg()}`, body: { description: 'x' } }), ok: 200 },
  deleteSecurityGroup: { make: async (f) => ({ method: 'DELETE', path: `/api/v1/security-groups/${await f.sg()}` }), ok: 204 },
  listVms: { make: () => ({ path: '/api/v1/vms' }), ok: 200 },
  createVm: { make: async (f) => ({ method: 'POST', path: '/api/v1/vms', body: { name: uniq('vm'), environment_id: await f.env(), size: 'small', image: 'debian-12' } }), ok: 202, other: 422 },
  getVm: { make: async (f) => ({ path: `/api/v1/vms/${(await f.vm()).id}` }), ok: 200 },
  updateVm: { make: async (f) => ({ method: 'PATCH', path: `/api/v1/vms/${(await f.vm()).id}`, body: { tags: { a: 'b' } } }), ok: 200 },
  deleteVm: { make: async (f) => ({ method: 'DELETE', path: `/api/v1/vms/${(await f.vm()).id}` }), ok: 202 },
  startVm: { make: async (f) => ({ method: 'POST', path: `/api/v1/vms/${(await f.vm('stopped')).id}/start` }), ok: 202 },
  stopVm: { make: async (f) => ({ method: 'POST', path: `/api/v1/vms/${(await f.vm()).id}/stop` }), ok: 202 },
  rebootVm: { make: async (f) => ({ method: 'POST', path: `/api/v1/vms/${(await f.vm()).id}/reboot` }), ok: 202 },
  listVolumes: { make: () => ({ path: '/api/v1/volumes' }), ok: 200 },
  createVolume: { make: async (f) => ({ method: 'POST', path: '/api/v1/volumes', body: { name: uniq('vol'), environment_id: await f.env(), size_gb: 1 } }), ok: 202, other: 422 },
  getVolume: { make: async (f) => ({ path: `/api/v1/volumes/${await f.volume()}` }), ok: 200 },
  updateVolume: { make: async (f) => ({ method: 'PATCH', path: `/api/v1/volumes/${await f.volume()}`, body: { tags: { a: 'b' } } }), ok: 200 },
  deleteVolume: { make: async (f) => ({ method: 'DELETE', path: `/api/v1/volumes/${await f.volume()}` }), ok: 202 },
  attachVolume: {
    make: async (f) => {
      const vm = await f.vm();
      return { method: 'POST', path: `/api/v1/volumes/${await f.volume(vm.env)}/attach/${vm.id}` };
    },
    ok: 202,
  },
  detachVolume: { make: async (f) => ({ method: 'POST', path: `/api/v1/volumes/${await f.attached()}/detach` }), ok: 202 },
  listOperations: { make: () => ({ path: '/api/v1/operations' }), ok: 200 },
  getOperation: { make: async (f) => ({ path: `/api/v1/operations/${(await f.vm()).op}` }), ok: 200 },
  listSizes: { make: () => ({ path: '/api/v1/sizes' }), ok: 200 },
  listImages: { make: () => ({ path: '/api/v1/images' }), ok: 200 },
  getSimulation: { make: () => ({ path: '/api/v1/simulation' }), ok: 200 },
  updateSimulation: { make: () => ({ method: 'PATCH', path: '/api/v1/simulation', body: { failure_rate: 0 } }), ok: 200 },
  streamEvents: { make: () => ({ path: '/api/v1/events' }), ok: 200 },
  getHealth: { make: () => ({ path: '/health' }), ok: 200 },
  getReady: { make: () => ({ path: '/ready' }), ok: 200 },
  getWhoami: { make: () => ({ path: '/api/v1/whoami' }), ok: 200 },
  createUser: { make: () => ({ method: 'POST', path: '/api/v1/users', body: { name: uniq('u') } }), ok: 201 },
  listUsers: { make: () => ({ path: '/api/v1/users' }), ok: 200 },
  createProject: { make: () => ({ method: 'POST', path: '/api/v1/projects', body: { name: uniq('p') } }), ok: 201 },
  listProjects: { make: () => ({ path: '/api/v1/projects' }), ok: 200 },
  deleteProject: { make: async (f) => ({ method: 'DELETE', path: `/api/v1/projects/${(await f.w.admin.post('/api/v1/projects', { name: uniq('p') })).body.id}` }), ok: 204 },
  listMembers: { make: (f) => ({ path: `/api/v1/projects/${f.w.p}/members` }), ok: 200, other: 404 },
  putMember: { make: async (f) => ({ method: 'PUT', path: `/api/v1/projects/${f.w.p}/members/${(await f.w.admin.post('/api/v1/users', { name: uniq('u') })).body.id}`, body: { role: 'viewer' } }), ok: 201, other: 404 },
  deleteMember: {
    make: async (f) => {
      const u = (await f.w.admin.post('/api/v1/users', { name: uniq('u') })).body.id;
      await f.w.admin.call('PUT', `/api/v1/projects/${f.w.p}/members/${u}`, { body: { role: 'viewer' } });
      return { method: 'DELETE', path: `/api/v1/projects/${f.w.p}/members/${u}` };
    },
    ok: 204,
    other: 404,
  },
  createToken: { make: (f) => ({ method: 'POST', path: '/api/v1/tokens', body: { name: 'm', project_id: f.w.p, scopes: ['vms:read'] } }), ok: 201, other: 404 },
  listTokens: { make: () => ({ path: '/api/v1/tokens' }), ok: 200 },
  revokeToken: {
    make: async (f, who) => {
      const user = who === 'editor' ? f.w.users.editor : who === 'viewer' ? f.w.users.viewer : f.w.users.owner;
      const t = (await f.w.admin.post('/api/v1/tokens', { name: 'r', project_id: f.w.p, user_id: user, scopes: ['vms:read'] })).body;
      return { method: 'DELETE', path: `/api/v1/tokens/${t.id}` };
    },
    ok: 204,
    other: 404,
  },
  listAuditEvents: { make: () => ({ path: '/api/v1/audit-events' }), ok: 200 },
  replaceEnvironment: {
    make: async (f) => {
      const e = (await f.http.get(`/api/v1/environments/${await f.env()}`)).body;
      return { method: 'PUT', path: `/api/v1/environments/${e.id}`, body: { name: e.name, cidr: e.cidr, tags: { a: 'b' } } };
    },
    ok: 200,
  },
  replaceSecurityGroup: {
    make: async (f) => {
      const g = (await f.http.get(`/api/v1/security-groups/${await f.sg()}`)).body;
      return { method: 'PUT', path: `/api/v1/security-groups/${g.id}`, body: { name: g.name, environment_id: g.environment_id, tags: { a: 'b' } } };
    },
    ok: 200,
  },
  replaceVm: {
    make: async (f) => {
      const v = (await f.http.get(`/api/v1/vms/${(await f.vm()).id}`)).body;
      return { method: 'PUT', path: `/api/v1/vms/${v.id}`, body: { name: v.name, environment_id: v.environment_id, size: v.size, image: v.image, tags: { a: 'b' } } };
    },
    ok: 200,
  },
  replaceVolume: {
    make: async (f) => {
      const v = (await f.http.get(`/api/v1/volumes/${await f.volume()}`)).body;
      return { method: 'PUT', path: `/api/v1/volumes/${v.id}`, body: { name: v.name, environment_id: v.environment_id, size_gb: v.size_gb, tags: { a: 'b' } } };
    },
    ok: 200,
  },
};

/** Status only: SSE bodies never end, and the app validates every body it sends anyway. */
async function statusOf(baseUrl: string, token: string | undefined, project: string | undefined, req: Req): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (project) headers['mockcloud-project'] = project;
  if (req.body !== undefined) headers['content-type'] = req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  const res = await fetch(baseUrl + req.path, { method: req.method ?? 'GET', headers, body: req.body === undefined ? undefined : JSON.stringify(req.body) });
  const body = /event-stream/.test(res.headers.get('content-type') ?? '') ? '' : await res.text();
  if (!body) await res.body?.cancel();
  return { status: res.status, body };
}

describe('auth matrix: every operation × every kind of caller (enforce)', function () {
  this.timeout(300_000);
  const ops: SpecOperation[] = specOperations(YAML.parse(fs.readFileSync(openapiPath(), 'utf8')));
  let api: TestApi;
  let w: World;
  let fx: Fixtures;

  before(async () => {
    api = await startTestApi({ auth: 'enforce', adminToken: ADMIN_TOKEN, timeScale: 0, failureRate: 0 });
    w = await buildWorld(api);
    fx = new Fixtures(w.adminP, w);
  });
  after(() => api?.close());

  const tokenOf = (who: Who): string | undefined =>
    who === 'none' ? undefined : who === 'admin' ? ADMIN_TOKEN : w.tokens[who];

  it('covers every operation of the contract', () => {
    expect(ops.length).to.be.greaterThan(40);
    const withoutScope = ops.filter((o) => !o.scope);
    expect(withoutScope).to.deep.equal([]);
  });

  for (const opName of specOperations(YAML.parse(fs.readFileSync(openapiPath(), 'utf8'))).map((o) => o.operationId)) {
    it(`${opName}: exact status for no token, expired, revoked, viewer, another project's owner, editor, owner, admin`, async () => {
      const op = ops.find((o) => o.operationId === opName)!;
      const recipe = RECIPES[opName];
      const results: string[] = [];
      const failures: string[] = [];
      let pending: Req | undefined;
      for (const who of WHO) {
        let req: Req;
        if (recipe) {
          // State is made fresh only after a request changed it (a 2xx on a write).
          pending ??= await recipe.make(fx, who);
          req = opName === 'revokeToken' ? await recipe.make(fx, who) : pending;
        } else {
          req = { method: op.method, path: op.pattern.source.slice(1, -1).replace(/\(\?<\w+>\[\^\/\]\+\)/g, 'x-none').replace(/\\/g, '') };
        }
        const r = await statusOf(api.baseUrl, tokenOf(who), who === 'admin' ? w.p : undefined, req);
        results.push(`${who}=${r.status}`);
        if (r.status < 300 && (req.method ?? 'GET') !== 'GET') pending = undefined;
        let expected: number | 'not-denied';
        if (op.public) expected = recipe?.ok ?? 'not-denied';
        else if (who === 'none' || who === 'expired' || who === 'revoked') expected = 401;
        else if (!allowed(who, op.scope)) expected = 403;
        else if (!recipe) expected = 'not-denied';
        else if (who === 'other') expected = recipe.other ?? (/\{id\}|\/(env|sg|vm|vol|op|tok|prj)-/.test(req.path) ? 404 : recipe.ok);
        else expected = recipe.ok;
        const good = expected === 'not-denied' ? r.status !== 401 && r.status !== 403 : r.status === expected;
        if (!good) failures.push(`${who}: expected ${expected}, got ${r.status} ${r.body.slice(0, 200)}`);
      }
      expect(failures, results.join(" ")).to.deep.equal([]);
    });
  }

  it('answers 401 with WWW-Authenticate and a problem, 403 with missing_scopes', async () => {
    const none = await authed(api.baseUrl, undefined).get('/api/v1/vms');
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.match(/^Bearer realm="mockcloud"/);
    expect(none.body.code).to.equal('unauthorized');
    const bad = await authed(api.baseUrl, 'mc_notatoken').get('/api/v1/vms');
    expect(bad.headers.get('www-authenticate')).to.contain('error="invalid_token"');
    expect(bad.text).to.not.contain('mc_notatoken');
    const malformed = await authed(api.baseUrl, undefined).get('/api/v1/vms', { headers: { authorization: 'Basic abc' } });
    expect(malformed.status).to.equal(401);
    const denied = await authed(api.baseUrl, w.tokens.viewer).post('/api/v1/environments', { name: uniq('env') });
    expect(denied.status).to.equal(403);
    expect(denied.body).to.include({ code: 'forbidden' });
    expect(denied.body.missing_scopes).to.deep.equal(['environments:write']);
  });

  it('checks the scope before the body: a viewer sending garbage gets 403, not 400', async () => {
    const r = await authed(api.baseUrl, w.tokens.viewer).call('POST', '/api/v1/environments', { raw: '{nope' });
    expect(r.status).to.equal(403);
  });

  it('whoami tells the caller, its project, role and scopes', async () => {
    const me = (await authed(api.baseUrl, w.tokens.editor).get('/api/v1/whoami')).body;
    expect(me).to.include({ auth: 'enforce', kind: 'token', project_id: w.p, user_id: w.users.editor, token_id: w.tokenIds.editor, role: 'editor' });
    expect(me.scopes).to.deep.equal(['*:write']);
    const admin = (await w.adminP.get('/api/v1/whoami')).body;
    expect(admin).to.include({ kind: 'admin', project_id: w.p });
  });

  it('a token never exceeds its creator: role and scopes both bound it', async () => {
    const viewer = authed(api.baseUrl, w.tokens.viewer);
    const editor = authed(api.baseUrl, w.tokens.editor);
    // the viewer cannot write tokens at all; the editor cannot mint an owner-only scope
    expect((await viewer.post('/api/v1/tokens', { name: 'x', scopes: ['vms:read'] })).status).to.equal(403);
    const tooMuch = await editor.post('/api/v1/tokens', { name: 'x', scopes: ['vms:read', 'members:write'] });
    expect(tooMuch.status).to.equal(403);
    expect(tooMuch.body.missing_scopes).to.deep.equal(['members:write']);
    const narrow = await editor.post('/api/v1/tokens', { name: 'x', scopes: ['vms:read'] });
    expect(narrow.status).to.equal(201);
    expect(narrow.body.secret).to.match(/^mc_[0-9A-Za-z]{40,44}$/);
    expect(narrow.body).to.include({ user_id: w.users.editor, project_id: w.p });
    // the narrow token reads VMs and nothing else
    const n = authed(api.baseUrl, narrow.body.secret);
    expect((await n.get('/api/v1/vms')).status).to.equal(200);
    expect((await n.get('/api/v1/volumes')).status).to.equal(403);
    expect((await editor.post('/api/v1/tokens', { name: 'x', user_id: w.users.owner, scopes: ['vms:read'] })).status).to.equal(403);
  });

  it('stores only a hash of the secret and records last_used_at', async () => {
    const created = (await w.adminP.post('/api/v1/tokens', { name: 'h', scopes: ['vms:read'] })).body;
    const row = await api.db('api_tokens').where({ id: created.id }).first();
    expect(JSON.stringify(row)).to.not.contain(created.secret);
    expect(row.last_used_at).to.equal(null);
    await authed(api.baseUrl, created.secret).get('/api/v1/vms');
    const listed = (await w.adminP.get('/api/v1/tokens')).body.items.find((t: { id: string }) => t.id === created.id);
    expect(listed).to.not.have.property('secret');
    expect((await api.db('api_tokens').where({ id: created.id }).first()).last_used_at).to.be.a('string');
  });

  it('never lists or answers another project’s resources (every list, by id 404)', async () => {
    const vm = await fx.vm();
    // Every kind of P's resource exists whatever the tests before this one deleted.
    await fx.sg();
    await fx.volume();
    await w.adminP.post('/api/v1/tokens', { name: 'iso', scopes: ['vms:read'] });
    const owner = authed(api.baseUrl, w.tokens.owner);
    const other = authed(api.baseUrl, w.tokens.other);
    const lists = ops.filter((o) => o.method === 'GET' && o.operationId.startsWith('list') && !o.pattern.source.includes('(?<'));
    expect(lists.length).to.be.greaterThan(7);
    for (const op of lists) {
      const path = op.pattern.source.slice(1, -1).replace(/\\/g, '');
      const mine = await owner.get(path);
      const theirs = await other.get(path);
      if (theirs.status === 403) continue; // admin-only lists (users) are nobody's tenant data
      expect(mine.status, `${op.operationId} ${mine.text}`).to.equal(200);
      expect(theirs.status, op.operationId).to.equal(200);
      const ids = (r: { body: { items: { id?: string; user_id?: string }[] } }) => r.body.items.map((i) => i.id ?? i.user_id);
      if (op.operationId !== 'listSizes' && op.operationId !== 'listImages') {
        expect(ids(mine).length, `${op.operationId} has P's items`).to.be.greaterThan(0);
        expect(ids(theirs).filter((id) => ids(mine).includes(id)), `${op.operationId} leaks`).to.deep.equal([]);
      }
    }
    expect((await other.get(`/api/v1/vms/${vm.id}`)).status).to.equal(404);
    expect((await other.get(`/api/v1/operations/${vm.op}`)).status).to.equal(404);
    expect((await other.get(`/api/v1/audit-events?resource_id=${vm.id}`)).body.items).to.deep.equal([]);
  });

  it('keys idempotency per project: the same key in another project is a new request', async () => {
    const key = uniq('k');
    const a = await authed(api.baseUrl, w.tokens.owner).post('/api/v1/environments', { name: uniq('env') }, { headers: { 'idempotency-key': key } });
    const b = await authed(api.baseUrl, w.tokens.other).post('/api/v1/environments', { name: uniq('env') }, { headers: { 'idempotency-key': key } });
    expect(a.status).to.equal(201);
    expect(b.status).to.equal(201);
    expect(b.headers.get('idempotent-replayed')).to.equal(null);
    expect(b.body.id).to.not.equal(a.body.id);
  });

  it('records every mutating request and every denial in the audit log', async () => {
    const owner = authed(api.baseUrl, w.tokens.owner);
    const env = (await owner.post('/api/v1/environments', { name: uniq('env') })).body;
    await authed(api.baseUrl, w.tokens.viewer).del(`/api/v1/environments/${env.id}`);
    const trail = (await owner.get(`/api/v1/audit-events?resource_id=${env.id}`)).body.items;
    expect(trail.map((e: { operation_id: string; status: number; decision: string }) => [e.operation_id, e.status, e.decision])).to.deep.equal([
      ['createEnvironment', 201, 'allowed'],
      ['deleteEnvironment', 403, 'denied'],
    ]);
    expect(trail[0]).to.include({ actor: w.users.owner, token_id: w.tokenIds.owner, project_id: w.p });
    expect(trail[1]).to.include({ actor: w.users.viewer });
    const denials = (await owner.get('/api/v1/audit-events?decision=denied&limit=500')).body.items;
    expect(denials.length).to.be.greaterThan(0);
    expect(denials.every((e: { project_id: string }) => e.project_id === w.p)).to.equal(true);
  });

  it('makes PATCH /simulation admin-only', async () => {
    expect((await authed(api.baseUrl, w.tokens.owner).patch('/api/v1/simulation', { failure_rate: 0 })).status).to.equal(403);
    expect((await authed(api.baseUrl, ADMIN_TOKEN).patch('/api/v1/simulation', { failure_rate: 0 })).status).to.equal(200);
  });

  it('answers 401 for an admin choosing a project that does not exist', async () => {
    expect((await authed(api.baseUrl, ADMIN_TOKEN, 'prj-nope').get('/api/v1/vms')).status).to.equal(401);
  });
});
