import { expect } from 'chai';
import { uniq, type Client } from '../support/http.js';
import { startApiWithEnvironment, type TestApi } from '../support/stack.js';

describe('api: security groups', () => {
  let api: TestApi;
  let http: Client;
  let envId: string;
  before(async () => {
    ({ api, http, envId } = await startApiWithEnvironment());
  });
  after(() => api.close());

  const ssh = { direction: 'ingress', protocol: 'tcp', port_from: 22, port_to: 22, cidr: '0.0.0.0/0' };
  const create = (body: Record<string, unknown>) => http.post('/api/v1/security-groups/', { environment_id: envId, ...body });

  it('creates a group and keeps its rules in the order given', async () => {
    const rules = [
      { direction: 'egress', protocol: 'all', cidr: '0.0.0.0/0' },
      ssh,
      { direction: 'ingress', protocol: 'icmp', cidr: '10.0.0.0/8' },
      { direction: 'ingress', protocol: 'udp', port_from: 1000, port_to: 2000, cidr: '192.168.1.0/24' },
    ];
    const r = await create({ name: uniq('sg'), description: 'web tier', rules, tags: { b: '1', a: '2' } });
    expect(r.status).to.equal(201);
    expect(r.body.id).to.match(/^sg-/);
    expect(r.body.rules).to.deep.equal(rules);
    expect(r.body.description).to.equal('web tier');
    expect(Object.keys(r.body.tags)).to.deep.equal(['b', 'a']);
    expect(r.headers.get('location')).to.equal(`/api/v1/security-groups/${r.body.id}`);
    expect((await http.get(`/api/v1/security-groups/${r.body.id}`)).body).to.deep.equal(r.body);
  });

  const badRules: [string, unknown][] = [
    ['port_from above port_to', { ...ssh, port_from: 80, port_to: 22 }],
    ['a port above 65535', { ...ssh, port_to: 70000 }],
    ['a negative port', { ...ssh, port_from: -1 }],
    ['a bad CIDR', { ...ssh, cidr: '10.0.0.0/33' }],
    ['a CIDR with host bits', { ...ssh, cidr: '10.0.0.1/8' }],
    ['an unknown protocol', { ...ssh, protocol: 'sctp' }],
    ['an unknown direction', { ...ssh, direction: 'sideways' }],
    ['a tcp rule without ports', { direction: 'ingress', protocol: 'tcp', cidr: '0.0.0.0/0' }],
    ['an unknown rule field', { ...ssh, action: 'allow' }],
    ['a port given as a string', { ...ssh, port_from: '22' }],
  ];
  for (const [what, rule] of badRules) {
    it(`refuses a rule with ${what} with 400 validation_failed`, async () => {
      const name = uniq('sg');
      const r = await create({ name, rules: [ssh, rule] });
      expect(r.status).to.equal(400);
      expect(r.body.code).to.equal('validation_failed');
      expect(r.body.errors.some((e: { path: string }) => e.path.includes('/rules/1'))).to.equal(true);
      expect((await http.get(`/api/v1/security-groups?name=${name}`)).body.items).to.have.length(0);
    });
  }

  it('refuses a group in an environment that does not exist with 422', async () => {
    const r = await http.post('/api/v1/security-groups', { name: uniq(), environment_id: 'env-nope0000000000000' });
    expect(r.status).to.equal(422);
    expect(r.body.code).to.equal('invalid_value');
    expect(r.body.errors[0].path).to.equal('/body/environment_id');
  });

  it('refuses a missing environment_id with 400', async () => {
    const r = await http.post('/api/v1/security-groups', { name: uniq() });
    expect(r.status).to.equal(400);
  });

  it('keeps names unique within an environment but not across environments', async () => {
    const name = uniq('sg');
    expect((await create({ name })).status).to.equal(201);
    const dup = await create({ name });
    expect(dup.status).to.equal(409);
    expect(dup.body.code).to.equal('already_exists');
    const otherEnv = (await http.post('/api/v1/environments', { name: uniq('env') })).body.id;
    expect((await http.post('/api/v1/security-groups', { name, environment_id: otherEnv })).status).to.equal(201);
  });

  it('replaces the rule list on PATCH and validates it', async () => {
    const c = await create({ name: uniq('sg'), rules: [ssh] });
    const https = { ...ssh, port_from: 443, port_to: 443 };
    const r = await http.patch(`/api/v1/security-groups/${c.body.id}`, { rules: [https, ssh], description: 'changed' });
    expect(r.status).to.equal(200);
    expect(r.body.rules).to.deep.equal([https, ssh]);
    expect(r.body.description).to.equal('changed');
    const bad = await http.patch(`/api/v1/security-groups/${c.body.id}`, { rules: [{ ...ssh, port_from: 9, port_to: 1 }] });
    expect(bad.status).to.equal(400);
    expect((await http.get(`/api/v1/security-groups/${c.body.id}`)).body.rules).to.deep.equal([https, ssh]);
  });

  it('refuses to move a group to another environment with 422 immutable_field', async () => {
    const c = await create({ name: uniq('sg') });
    const otherEnv = (await http.post('/api/v1/environments', { name: uniq('env') })).body.id;
    const r = await http.patch(`/api/v1/security-groups/${c.body.id}`, { environment_id: otherEnv });
    expect(r.status).to.equal(422);
    expect(r.body.code).to.equal('immutable_field');
  });

  it('lists by environment_id', async () => {
    const env = (await http.post('/api/v1/environments', { name: uniq('env') })).body.id;
    const a = await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env });
    const b = await http.post('/api/v1/security-groups', { name: uniq('sg'), environment_id: env });
    const r = await http.get(`/api/v1/security-groups?environment_id=${env}`);
    expect(r.body.items.map((g: { id: string }) => g.id)).to.deep.equal([a.body.id, b.body.id]);
  });

  it('deletes with 204 and then answers 404', async () => {
    const c = await create({ name: uniq('sg') });
    expect((await http.del(`/api/v1/security-groups/${c.body.id}/`)).status).to.equal(204);
    expect((await http.get(`/api/v1/security-groups/${c.body.id}`)).status).to.equal(404);
  });

  it('deletes with a matching If-Match and refuses a stale one with 412', async () => {
    const c = await create({ name: uniq('sg') });
    const stale = await http.del(`/api/v1/security-groups/${c.body.id}`, { headers: { 'if-match': '"nope"' } });
    expect(stale.status).to.equal(412);
    const ok = await http.del(`/api/v1/security-groups/${c.body.id}`, { headers: { 'if-match': c.headers.get('etag')! } });
    expect(ok.status).to.equal(204);
  });
});
