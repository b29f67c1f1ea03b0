import { expect } from 'chai';
import fs from 'node:fs';
import YAML from 'yaml';
import { openapiPath } from '../../core/paths.js';
import { buildHandlers } from '../../server/handlers/index.js';
import { specOperationIds } from '../../server/app.js';
import { client, uniq } from '../support/http.js';
import { openSse } from '../support/sse.js';
import { startTestApi, type TestApi } from '../support/stack.js';
import { settle, waitFor } from '../support/wait.js';

// The contract suite: one scenario that touches every operation of openapi.yaml, success and error
// paths, with every response validated against the contract (the test app validates bodies and
// status codes; this suite also checks documented headers and problem documents). An operation
// the scenario never reaches, or a response the contract does not describe, fails the suite.

interface Seen {
  operationId: string;
  status: number;
  headers: Record<string, unknown>;
}

type Spec = { paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, { $ref?: string; headers?: Record<string, unknown> }> }>>; components: { responses: Record<string, { headers?: Record<string, unknown> }> } };

describe('contract: every operation of openapi.yaml', function () {
  this.timeout(60_000);
  const spec = YAML.parse(fs.readFileSync(openapiPath(), 'utf8')) as Spec;
  const seen: Seen[] = [];
  let api: TestApi;

  before(async () => {
    api = await startTestApi({
      timeScale: 0.01,
      failureRate: 0,
      observe: (operationId, _req, res) => {
        if (operationId) seen.push({ operationId, status: res.statusCode, headers: res.getHeaders() });
      },
    });
  });
  after(() => api.close());

  it('has a handler for every operationId, and no handler for an operation the spec lacks', () => {
    const ids = specOperationIds(spec).sort();
    const handlers = Object.keys(buildHandlers(api.services)).sort();
    expect(handlers).to.deep.equal(ids);
  });

  // Runs before the scenario below, which checks that every operation was reached.
  it('runs the identity operations (SPEC §10; with auth off every caller may use them)', async () => {
    const http = client(api.baseUrl);
    const ok = async (p: Promise<{ status: number; body: any; text: string }>, status: number) => {
      const r = await p;
      expect(r.status, r.text).to.equal(status);
      return r.body;
    };
    await ok(http.get('/api/v1/whoami'), 200);
    const user = await ok(http.post('/api/v1/users', { name: uniq('user') }), 201);
    await ok(http.post('/api/v1/users', { name: user.name }), 409);
    await ok(http.get('/api/v1/users'), 200);
    const project = await ok(http.post('/api/v1/projects', { name: uniq('prj'), owner_id: user.id }), 201);
    await ok(http.post('/api/v1/projects', { name: uniq('prj'), owner_id: 'usr-nope' }), 404);
    await ok(http.get('/api/v1/projects'), 200);
    await ok(http.get(`/api/v1/projects/${project.id}/members`), 200);
    // The only owner can be neither demoted nor removed; with a second owner both work.
    await ok(http.call('PUT', `/api/v1/projects/${project.id}/members/${user.id}`, { body: { role: 'editor' } }), 409);
    await ok(http.del(`/api/v1/projects/${project.id}/members/${user.id}`), 409);
    const second = await ok(http.post('/api/v1/users', { name: uniq('user') }), 201);
    await ok(http.call('PUT', `/api/v1/projects/${project.id}/members/${second.id}`, { body: { role: 'owner' } }), 201);
    await ok(http.call('PUT', `/api/v1/projects/${project.id}/members/${user.id}`, { body: { role: 'editor' } }), 200);
    await ok(http.call('PUT', `/api/v1/projects/${project.id}/members/${user.id}`, { body: { role: 'king' } }), 400);
    const token = await ok(http.post('/api/v1/tokens', { name: 'ci', project_id: project.id, user_id: user.id, scopes: ['vms:read'], expires_in_s: 3600 }), 201);
    await ok(http.post('/api/v1/tokens', { name: 'ci', project_id: project.id, user_id: 'usr-nope', scopes: ['vms:read'] }), 422);
    await ok(http.get('/api/v1/tokens'), 200);
    await ok(http.del(`/api/v1/tokens/${token.id}`), 204);
    await ok(http.del('/api/v1/tokens/tok-nope'), 404);
    await ok(http.del(`/api/v1/projects/${project.id}/members/${user.id}`), 204);
    await ok(http.del(`/api/v1/projects/${project.id}/members/${user.id}`), 404);
    await ok(http.del(`/api/v1/projects/${project.id}`), 204);
    await ok(http.del('/api/v1/projects/default'), 409);
    await ok(http.get('/api/v1/audit-events?limit=5'), 200);
  });

  it('runs a scenario through every operation with validated responses', async () => {
    const http = client(api.baseUrl);
    const ok = async (p: Promise<{ status: number; body: any; text: string }>, status: number) => {
      const r = await p;
      expect(r.status, r.text).to.equal(status);
      return r.body;
    };
    await ok(http.get('/health'), 200);
    await ok(http.get('/ready'), 200);
    await ok(http.get('/api/v1/sizes'), 200);
    await ok(http.get('/api/v1/images'), 200);
    await ok(http.get('/api/v1/simulation'), 200);
    await ok(http.patch('/api/v1/simulation', { failure_rate: 0 }), 200);
    await ok(http.patch('/api/v1/simulation', { operations: { 'vm.stop': { min_s: 5, max_s: 1 } } }), 422);

    const env = await ok(http.post('/api/v1/environments', { name: uniq('env'), cidr: '10.0.0.0/24' }), 201);
    await ok(http.post('/api/v1/environments', { name: env.name }), 409);
    await ok(http.post('/api/v1/environments', { name: 'x', cidr: 'nope' }), 400);
    await ok(http.get('/api/v1/environments?limit=1'), 200);
    await ok(http.get(`/api/v1/environments/${env.id}`), 200);
    await ok(http.get('/api/v1/environments/env-0000000000000000'), 404);
    await ok(http.patch(`/api/v1/environments/${env.id}`, { tags: { a: 'b' } }), 200);
    await ok(http.patch(`/api/v1/environments/${env.id}`, { cidr: '10.1.0.0/24' }), 422);
    await ok(http.patch(`/api/v1/environments/${env.id}`, { tags: {} }, { headers: { 'if-match': '"stale"' } }), 412);
    await ok(http.call('POST', '/api/v1/environments', { raw: 'x', contentType: 'text/plain' }), 415);
    await ok(http.call('POST', '/api/v1/environments', { raw: JSON.stringify({ name: 'x', pad: 'a'.repeat(1_100_000) }) }), 413);

    const sg = await ok(http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env.id, rules: [{ direction: 'ingress', protocol: 'tcp', port_from: 22, port_to: 22, cidr: '0.0.0.0/0' }] }), 201);
    await ok(http.get('/api/v1/security-groups'), 200);
    await ok(http.get(`/api/v1/security-groups/${sg.id}`), 200);
    await ok(http.patch(`/api/v1/security-groups/${sg.id}`, { description: 'ssh' }), 200);

    const sse = openSse(`${api.baseUrl}/api/v1/events?environment_id=${env.id}&last_event_id=0`);
    const vm = await ok(http.post('/api/v1/vms', { name: uniq('vm'), environment_id: env.id, size: 'small', image: 'debian-12', security_group_ids: [sg.id] }), 202);
    await settle(http, vm.operation_id);
    await ok(http.get('/api/v1/vms'), 200);
    await ok(http.get(`/api/v1/vms/${vm.id}`), 200);
    await ok(http.post(`/api/v1/vms/${vm.id}/start`), 409);
    await ok(http.patch(`/api/v1/vms/${vm.id}`, { tags: { role: 'web' } }), 200);
    await settle(http, (await ok(http.post(`/api/v1/vms/${vm.id}/reboot`), 202)).operation_id);
    await ok(http.del(`/api/v1/security-groups/${sg.id}`), 409);
    await ok(http.del(`/api/v1/environments/${env.id}`), 409);

    const vol = await ok(http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: env.id, size_gb: 5 }), 202);
    await settle(http, vol.operation_id);
    await ok(http.get('/api/v1/volumes'), 200);
    await ok(http.get(`/api/v1/volumes/${vol.id}`), 200);
    await ok(http.patch(`/api/v1/volumes/${vol.id}`, { size_gb: 1 }), 422);
    await ok(http.patch(`/api/v1/volumes/${vol.id}`, { size_gb: 6 }), 200);
    // Whole-document replacement and Prefer: wait (declarative clients).
    await ok(http.call('PUT', `/api/v1/environments/${env.id}`, { body: { name: env.name, cidr: '10.0.0.0/24' } }), 200);
    await ok(http.call('PUT', `/api/v1/security-groups/${sg.id}`, { body: { name: sg.name, environment_id: env.id } }), 200);
    await ok(http.call('PUT', `/api/v1/vms/${vm.id}`, { body: { name: vm.name, environment_id: env.id, size: 'small', image: 'debian-12', security_group_ids: [sg.id] } }), 200);
    await ok(http.call('PUT', `/api/v1/volumes/${vol.id}`, { body: { name: vol.name, environment_id: env.id, size_gb: 6 } }), 200);
    const waited = await ok(http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: env.id, size_gb: 1 }, { headers: { prefer: 'wait=30' } }), 201);
    await ok(http.del(`/api/v1/volumes/${waited.id}`, { headers: { prefer: 'wait=30' } }), 204);
    await settle(http, (await ok(http.post(`/api/v1/volumes/${vol.id}/attach/${vm.id}`), 202)).operation_id);
    await ok(http.del(`/api/v1/volumes/${vol.id}`), 409);
    await settle(http, (await ok(http.post(`/api/v1/volumes/${vol.id}/detach`), 202)).operation_id);

    await ok(http.get(`/api/v1/operations?resource_id=${vm.id}`), 200);
    await ok(http.get(`/api/v1/operations/${vm.operation_id}`), 200);
    await ok(http.get('/api/v1/operations/op-0000000000000000'), 404);

    await settle(http, (await ok(http.post(`/api/v1/vms/${vm.id}/stop`), 202)).operation_id);
    await ok(http.patch(`/api/v1/vms/${vm.id}`, { size: 'medium' }), 200);
    await settle(http, (await ok(http.post(`/api/v1/vms/${vm.id}/start`), 202)).operation_id);
    await settle(http, (await ok(http.del(`/api/v1/vms/${vm.id}`), 202)).operation_id);
    await settle(http, (await ok(http.del(`/api/v1/volumes/${vol.id}`), 202)).operation_id);
    await ok(http.del(`/api/v1/security-groups/${sg.id}`), 204);
    await waitFor('events for the whole scenario', async () => sse.events.some((e) => e.event === 'volume.deleted'));
    await sse.close();
    await ok(http.del(`/api/v1/environments/${env.id}`), 204);

    // Emulator control (SPEC §11).
    await ok(http.get('/api/v1/admin/clock'), 200);
    await ok(http.post('/api/v1/admin/clock/pause'), 200);
    await ok(http.post('/api/v1/admin/clock/resume'), 200);
    await ok(http.post('/api/v1/admin/clock/advance', { seconds: 1 }), 200);
    await ok(http.post('/api/v1/admin/clock/advance', { seconds: 0 }), 400);
    const rule = await ok(http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'listImages' }, effect: { status: 503 }, times: 1 }), 201);
    await ok(http.get('/api/v1/images'), 503);
    await ok(http.get('/api/v1/admin/chaos/rules'), 200);
    await ok(http.post('/api/v1/admin/chaos/rules', { match: { operation_id: 'nope' }, effect: { status: 503 } }), 422);
    await ok(http.del(`/api/v1/admin/chaos/rules/${rule.id}`), 204);
    await ok(http.del('/api/v1/admin/chaos/rules/chaos-gone'), 404);
    await ok(http.del('/api/v1/admin/chaos/rules'), 204);
    const state = await ok(http.get('/api/v1/admin/state'), 200);
    await ok(http.post('/api/v1/admin/state?strategy=merge&dry_run=true', state), 200);
    await ok(http.post('/api/v1/admin/state', { schema_version: 99 }), 422);
    const snap = uniq('snap');
    await ok(http.post('/api/v1/admin/snapshots', { name: snap }), 201);
    await ok(http.get('/api/v1/admin/snapshots'), 200);
    await ok(http.post(`/api/v1/admin/snapshots/${snap}/restore?dry_run=true`), 200);
    await ok(http.post('/api/v1/admin/snapshots/nope/restore'), 404);
    await ok(http.del(`/api/v1/admin/snapshots/${snap}`), 204);
    await ok(http.get('/api/v1/admin/init'), 200);
    await ok(http.post('/api/v1/admin/reset', { environment_id: 'env-gone' }), 404);
    await ok(http.post('/api/v1/admin/reset', {}), 200);

    const missing = specOperationIds(spec).filter((id) => !seen.some((s) => s.operationId === id));
    expect(missing, 'operations the scenario never reached').to.deep.equal([]);
  });

  it('sent every header the contract documents for each response, and problem+json for every error', () => {
    expect(seen.length).to.be.greaterThan(40);
    const ops = new Map<string, Record<string, { $ref?: string; headers?: Record<string, unknown> }>>();
    for (const item of Object.values(spec.paths)) for (const op of Object.values(item)) if (op.operationId) ops.set(op.operationId, op.responses ?? {});
    // Headers sent only in some circumstances, as the contract says: Retry-After on 429/503 and while an operation runs.
    const conditional = new Set(['retry-after', 'etag']);
    for (const s of seen) {
      const documented = ops.get(s.operationId)?.[String(s.status)];
      expect(documented, `${s.operationId} ${s.status} is documented`).to.not.equal(undefined);
      const resolved = documented!.$ref ? spec.components.responses[documented!.$ref.split('/').pop()!]! : documented!;
      for (const h of Object.keys(resolved.headers ?? {})) {
        const name = h.toLowerCase();
        if (conditional.has(name) && !(s.status === 202 || (name === 'etag' && s.status < 300))) continue;
        expect(s.headers, `${s.operationId} ${s.status} sends ${h}`).to.have.property(name);
      }
      if (s.status >= 400) expect(String(s.headers['content-type']), `${s.operationId} ${s.status}`).to.match(/^application\/problem\+json/);
    }
  });
});
