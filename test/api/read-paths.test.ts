import { expect } from 'chai';
import { etagOf } from '../../core/common/etag.js';
import { createApp, warmContract } from '../../server/app.js';
import { listRows } from '../../core/common/list.js';
import { idleSqlite } from '../../core/sqlite-fast-path.js';
import { getVmWithRelations, relationColumns } from '../../core/vms/relations.js';
import type { VmRow } from '../../core/vms/schema.js';
import { client, uniq, type Client } from '../support/http.js';
import { listenLocal, STACK, startTestApi, testLogger, type TestApi } from '../support/stack.js';
import { settle } from '../support/wait.js';

// GET /vms/{id} and list pages read the embedded store's idle connection directly, skipping knex's
// runner and pool (core/sqlite-fast-path.ts). These check that the fast path is taken where it may
// be, that it answers exactly what the knex path answers, and that it never reads inside somebody
// else's open transaction.
describe('api: read paths (embedded fast path and the knex path agree)', () => {
  let api: TestApi;
  let http: Client;
  let env: { id: string };
  let vm: { id: string };
  let vols: string[];
  let sgs: string[];
  before(async () => {
    api = await startTestApi({ timeScale: 0, failureRate: 0 });
    http = client(api.baseUrl);
    env = (await http.post('/api/v1/environments', { name: uniq('env'), cidr: '10.30.0.0/16' })).body;
    const sg = async () => (await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env.id, rules: [] })).body.id as string;
    const [a, b] = [await sg(), await sg()];
    sgs = [b, a]; // not in creation order: the order given is kept
    const r = await http.post('/api/v1/vms', { name: uniq('vm'), environment_id: env.id, size: 'small', image: 'debian-12', security_group_ids: sgs, tags: { team: 'a', 'x-y': 'é "q"' } });
    await settle(http, r.body.operation_id);
    vm = r.body;
    vols = [];
    for (let i = 0; i < 2; i++) {
      const v = await http.post('/api/v1/volumes', { name: uniq('vol'), environment_id: env.id, size_gb: 10 });
      await settle(http, v.body.operation_id);
      await settle(http, (await http.post(`/api/v1/volumes/${v.body.id}/attach/${vm.id}`)).body.operation_id);
      vols.push(v.body.id);
    }
  });
  after(() => api.close());

  it('takes the fast path only on the embedded store and never for a transaction', async () => {
    // The connection is learnt from the pool on the first knex query after the first ask.
    idleSqlite(api.db);
    await api.db.raw('select 1');
    if (STACK === 'embedded') expect(idleSqlite(api.db)).to.not.equal(undefined);
    else expect(idleSqlite(api.db)).to.equal(undefined);
    await api.db.transaction(async (trx) => {
      expect(idleSqlite(trx)).to.equal(undefined);
      // The embedded store's only connection is this transaction's: not idle for anyone else.
      expect(idleSqlite(api.db)).to.equal(undefined);
    });
  });

  it('reads one VM identically on both paths, relations in their order', async () => {
    const fast = await getVmWithRelations(api.db, 'default', vm.id);
    const slow = await api.db.transaction((trx) => getVmWithRelations(trx, 'default', vm.id));
    expect(fast).to.deep.equal(slow);
    expect(fast!.rel).to.deep.equal({ securityGroupIds: sgs, attachedVolumeIds: vols, progress: 100 });
    const got = await http.get(`/api/v1/vms/${vm.id}`);
    expect(got.body).to.deep.include({ security_group_ids: sgs, attached_volume_ids: vols, progress: 100, tags: { team: 'a', 'x-y': 'é "q"' } });
    expect(await getVmWithRelations(api.db, 'another-project', vm.id)).to.equal(undefined);
  });

  it('reads a list page identically on both paths, with the limit and the cursor', async () => {
    const tokens = (api.services as unknown as { vms: { deps: { pageTokens: never } } }).vms.deps.pageTokens;
    const page = (db: typeof api.db, pageToken?: string) =>
      listRows<VmRow>(db, 'vms', 'default', { limit: 1, pageToken, environmentId: env.id }, tokens, (q) => q.select(db.raw(relationColumns(db))));
    const fast = await page(api.db);
    const slow = await api.db.transaction((trx) => page(trx));
    expect(fast).to.deep.equal(slow);
    expect(fast.rows).to.have.length(1);
    expect(fast.nextPageToken).to.equal(undefined);
    const listed = await http.get(`/api/v1/vms?environment_id=${env.id}&limit=1`);
    expect(listed.body.items).to.have.length(1);
    expect(listed.body.items[0]).to.deep.equal((await http.get(`/api/v1/vms/${vm.id}`)).body);
  });

  it('writes a page of VMs as JSON byte for byte as JSON.stringify of the objects (SQLite writes it on the embedded store)', async () => {
    // Rows as any writer could leave them: every field a VM's JSON has, with the strings that
    // escaping gets wrong if anything does, errors with and without a message, no operation.
    const e2 = (await http.post('/api/v1/environments', { name: uniq('env'), cidr: '10.31.0.0/16' })).body;
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
    const nasty = ['"quoted" \\ back\\slash', 'line\nbreak\ttab\r\b\f', '\u0001\u001f\u007f', 'é ü 日本 😀', '\u2028\u2029', '</script>', ''];
    const rows = [
      { status: 'error', operation_id: vm.id.replace('vm-', 'op-x'), error_code: 'provisioning_failed', error_message: nasty.join('|'), tags: JSON.stringify(Object.fromEntries(nasty.map((v, i) => [`k${i}${v}`, v]))) },
      { status: 'error', operation_id: null, error_code: 'quota_exceeded', error_message: null, tags: '{}' },
      { status: 'error', operation_id: null, error_code: null, error_message: 'no code: no error object', tags: '{"a":"b"}' },
      { status: 'running', operation_id: '', error_code: 'stale', error_message: 'x', tags: JSON.stringify({ z: '1', a: '2' }) },
    ].map((r, i) => ({ id: `vm-${uniq('bytes')}-${i}`, project_id: 'default', environment_id: e2.id, name: `n${i}-${uniq('vm')}`, size: 'small', image: 'debian-12', private_ip: `10.31.0.${10 + i}`, created_at: at(i), updated_at: at(i + 30), ...r }));
    await api.db('vms').insert(rows);
    await api.db('vm_security_groups').insert([{ vm_id: rows[1]!.id, security_group_id: sgs[0]!, position: 1 }, { vm_id: rows[1]!.id, security_group_id: sgs[1]!, position: 0 }]);
    const ctx = { projectId: 'default' };
    for (const q of [{ environmentId: e2.id }, { environmentId: e2.id, limit: 2 }, { environmentId: e2.id, status: 'error' }]) {
      const objects = await api.services.vms.list(ctx, q);
      expect(await api.services.vms.listJson(ctx, q)).to.equal(JSON.stringify(objects));
      if (objects.next_page_token) {
        const next = { ...q, pageToken: objects.next_page_token };
        expect(await api.services.vms.listJson(ctx, next)).to.equal(JSON.stringify(await api.services.vms.list(ctx, next)));
      }
    }
    const listed = await http.get(`/api/v1/vms?environment_id=${e2.id}`);
    expect(listed.body.items.map((v: { id: string }) => v.id)).to.deep.equal(rows.map((r) => r.id));
    expect(listed.body.items[0].error).to.deep.equal({ code: 'provisioning_failed', message: nasty.join('|') });
    expect(listed.body.items[1]).to.deep.include({ security_group_ids: [sgs[1], sgs[0]], progress: 100, operation_id: null, error: { code: 'quota_exceeded', message: '' } });
    expect(listed.body.items[2].error).to.equal(null);
    for (const item of listed.body.items) expect(item).to.deep.equal((await http.get(`/api/v1/vms/${item.id}`)).body);
    await api.db('vm_security_groups').whereIn('vm_id', rows.map((r) => r.id)).delete();
    await api.db('vms').whereIn('id', rows.map((r) => r.id)).delete();
  });

  it('sends the serialised text as res.json would: same bytes, headers and ETag (without response validation, as shipped)', async () => {
    // The test stacks validate responses, which routes bodies through res.json; a shipped server
    // sends the text itself.
    const app = createApp({ services: api.services, logger: testLogger() });
    await warmContract(app);
    const local = await listenLocal(app);
    try {
      const base = local.baseUrl;
      const one = await fetch(`${base}/api/v1/vms/${vm.id}`);
      const text = await one.text();
      expect(one.status).to.equal(200);
      expect(one.headers.get('content-type')).to.equal('application/json; charset=utf-8');
      expect(one.headers.get('content-length')).to.equal(String(Buffer.byteLength(text)));
      expect(text).to.equal(JSON.stringify(JSON.parse(text)));
      expect(one.headers.get('etag')).to.equal(etagOf(JSON.parse(text)));
      expect(JSON.parse(text)).to.deep.equal((await http.get(`/api/v1/vms/${vm.id}`)).body);
      const page = await fetch(`${base}/api/v1/vms?environment_id=${env.id}`);
      const pageText = await page.text();
      expect(page.headers.get('content-type')).to.equal('application/json; charset=utf-8');
      expect(page.headers.get('etag')).to.equal(null);
      expect(pageText).to.equal(JSON.stringify((await http.get(`/api/v1/vms?environment_id=${env.id}`)).body));
    } finally {
      await local.close();
    }
  });

  it('does not see what an open transaction has written and then rolls back', async () => {
    const id = `vm-${uniq('uncommitted')}`;
    const at = new Date().toISOString();
    const trx = await api.db.transaction();
    await trx('vms').insert({ id, project_id: 'default', environment_id: env.id, name: uniq('ghost'), size: 'small', image: 'debian-12', private_ip: '10.30.200.1', status: 'running', operation_id: null, error_code: null, error_message: null, tags: '{}', created_at: at, updated_at: at });
    // Asked while the transaction is open: on SQLite it waits for the connection, on PostgreSQL it
    // reads the committed state; either way the row that is rolled back is never seen.
    const read = getVmWithRelations(api.db, 'default', id);
    const page = listRows<VmRow>(api.db, 'vms', 'default', { environmentId: env.id, limit: 500 }, (api.services as unknown as { vms: { deps: { pageTokens: never } } }).vms.deps.pageTokens);
    await new Promise((r) => setTimeout(r, 20));
    await trx.rollback();
    expect(await read).to.equal(undefined);
    expect((await page).rows.map((r) => r.id)).to.not.include(id);
  });
});
