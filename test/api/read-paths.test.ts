import { expect } from 'chai';
import { listRows } from '../../core/common/list.js';
import { idleSqlite } from '../../core/sqlite-fast-path.js';
import { getVmWithRelations, relationColumns } from '../../core/vms/relations.js';
import type { VmRow } from '../../core/vms/schema.js';
import { client, uniq, type Client } from '../support/http.js';
import { STACK, startTestApi, type TestApi } from '../support/stack.js';
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
