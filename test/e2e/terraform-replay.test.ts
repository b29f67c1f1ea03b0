import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { uniq } from '../support/http.js';
import { startTestApi, type TestApi } from '../support/stack.js';

// What Mastercard/restapi does for each `restapi_object` of examples/terraform/main.tf, request by
// request, with the provider settings of that file (create_returns_object, write_returns_object,
// id_attribute = "id", update_method = "PATCH", Content-Type: application/json on every request):
//   apply:   <create_method> <create_path> with `data`; the id and state come from that response
//   refresh: GET <read_path> (path/{id}); 404 drops the object from the state; the keys of `data`
//            are compared with the answer, so any normalisation shows up as a perpetual diff
//   change:  PATCH <update_path> with the WHOLE `data` document, state from the response
//   destroy: <destroy_method> <destroy_path>; it does not wait, wait-for.sh does
// The bodies below are main.tf's jsonencode() blocks; a test checks that their keys still match.

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const exampleDir = path.join(repoRoot, 'examples/terraform');

/** The provider's sendRequest: a string body ('' for none), the configured headers, 2xx or an error. */
function restapi(baseUrl: string) {
  return async (method: string, p: string, body = ''): Promise<{ status: number; json: any }> => {
    const res = await fetch(baseUrl + p, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'GET' || method === 'DELETE' ? undefined : body,
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
}

/** The provider's drift check: every key it sent must come back unchanged. */
function expectEchoed(apiData: Record<string, unknown>, data: Record<string, unknown>) {
  for (const [k, v] of Object.entries(data)) expect(apiData[k], `"${k}" comes back as sent`).to.deep.equal(v);
}

describe('Terraform example: replay of the restapi provider requests', function () {
  this.timeout(60_000);
  let api: TestApi;
  let send: ReturnType<typeof restapi>;
  const wait = promisify(execFile);

  before(async () => {
    api = await startTestApi({ timeScale: 0.01 });
    send = restapi(api.baseUrl);
  });
  after(async () => api?.close());

  /** examples/terraform/wait-for.sh, the documented workaround for the provider not waiting. */
  const waitFor = (...args: string[]) =>
    wait('sh', [path.join(exampleDir, 'wait-for.sh'), ...args], { env: { ...process.env, MOCKCLOUD_ENDPOINT: api.baseUrl, MOCKCLOUD_WAIT_TIMEOUT: '30' } });

  const body = {
    environment: (name: string) => ({ name, cidr: '10.30.0.0/24', tags: { 'managed-by': 'terraform' } }),
    securityGroup: (name: string, environment_id: string) => ({
      name: `${name}-web`,
      environment_id,
      description: 'HTTP(S) and SSH in, everything out',
      rules: [
        { direction: 'ingress', protocol: 'tcp', port_from: 22, port_to: 22, cidr: '10.0.0.0/8' },
        { direction: 'ingress', protocol: 'tcp', port_from: 80, port_to: 80, cidr: '0.0.0.0/0' },
        { direction: 'ingress', protocol: 'tcp', port_from: 443, port_to: 443, cidr: '0.0.0.0/0' },
        { direction: 'egress', protocol: 'all', cidr: '0.0.0.0/0' },
      ],
      tags: { 'managed-by': 'terraform' },
    }),
    vm: (name: string, environment_id: string, sg: string) => ({
      name: `${name}-app`,
      environment_id,
      size: 'medium',
      image: 'ubuntu-24.04',
      security_group_ids: [sg],
      tags: { 'managed-by': 'terraform', 'mockcloud:duration': '0' },
    }),
    volume: (name: string, environment_id: string) => ({
      name: `${name}-data`,
      environment_id,
      size_gb: 20,
      type: 'ssd',
      tags: { 'managed-by': 'terraform', 'mockcloud:duration': '0' },
    }),
  };

  const newEnvironment = async (name: string) => (await send('POST', '/api/v1/environments', JSON.stringify(body.environment(name)))).json.id as string;

  it("keeps these bodies in step with main.tf's data blocks", () => {
    const tf = readFileSync(path.join(exampleDir, 'main.tf'), 'utf8');
    const keys = new Set([...tf.matchAll(/\b([a-z_]+)\s*=[^=]/g)].map((m) => m[1]));
    const samples = [body.environment('n'), body.securityGroup('n', 'e'), body.vm('n', 'e', 's'), body.volume('n', 'e')];
    for (const sample of samples) for (const k of Object.keys(sample)) expect(keys, `main.tf sets "${k}"`).to.include(k);
    for (const setting of ['create_returns_object = true', 'write_returns_object  = true', 'id_attribute          = "id"', 'update_method  = "PATCH"']) {
      expect(tf).to.contain(setting);
    }
  });

  it('environment: POST returns the object with its id, GET echoes it, PATCH takes the whole document, DELETE then 404', async () => {
    const name = uniq('tf');
    const data = body.environment(name);
    const created = await send('POST', '/api/v1/environments', JSON.stringify(data));
    expect(created.status).to.equal(201);
    expect(created.json.id).to.be.a('string').and.match(/^env-/);
    expectEchoed(created.json, data);

    const read = await send('GET', `/api/v1/environments/${created.json.id}`);
    expect(read.status).to.equal(200);
    expectEchoed(read.json, data);

    const changed = { ...data, tags: { 'managed-by': 'terraform', owner: 'ops' } };
    const updated = await send('PATCH', `/api/v1/environments/${created.json.id}`, JSON.stringify(changed));
    expect(updated.status).to.equal(200);
    expect(updated.json.id, 'write_returns_object: the PATCH answer carries the id').to.equal(created.json.id);
    expectEchoed(updated.json, changed);
    expectEchoed((await send('GET', `/api/v1/environments/${created.json.id}`)).json, changed);

    // Why cidr is in force_new: updating it in place is refused.
    const moved = await send('PATCH', `/api/v1/environments/${created.json.id}`, JSON.stringify({ ...changed, cidr: '10.31.0.0/24' }));
    expect(moved.status).to.equal(422);
    expect(moved.json.code).to.equal('immutable_field');

    expect((await send('DELETE', `/api/v1/environments/${created.json.id}`)).status).to.equal(204);
    expect((await send('GET', `/api/v1/environments/${created.json.id}`)).status, 'refresh drops it from the state').to.equal(404);
  });

  it('security group: rules come back in order, a whole-document PATCH replaces them, DELETE then 404', async () => {
    const name = uniq('tf');
    const env = await newEnvironment(name);
    const data = body.securityGroup(name, env);
    const created = await send('POST', '/api/v1/security-groups', JSON.stringify(data));
    expect(created.status).to.equal(201);
    expect(created.json.id).to.match(/^sg-/);
    expectEchoed(created.json, data);
    expectEchoed((await send('GET', `/api/v1/security-groups/${created.json.id}`)).json, data);

    const changed = { ...data, rules: data.rules.slice(1) };
    const updated = await send('PATCH', `/api/v1/security-groups/${created.json.id}`, JSON.stringify(changed));
    expect(updated.status).to.equal(200);
    expectEchoed(updated.json, changed);

    const moved = await send('PATCH', `/api/v1/security-groups/${created.json.id}`, JSON.stringify({ ...changed, environment_id: 'env-elsewhere' }));
    expect(moved.status).to.equal(422);
    expect(moved.json.code).to.equal('immutable_field');

    expect((await send('DELETE', `/api/v1/security-groups/${created.json.id}`)).status).to.equal(204);
    expect((await send('GET', `/api/v1/security-groups/${created.json.id}`)).status).to.equal(404);
  });

  it('VM: POST answers 202 with the object (creating), wait-for.sh waits for running, PATCH of tags, DELETE then 404', async () => {
    const name = uniq('tf');
    const env = await newEnvironment(name);
    const sg = (await send('POST', '/api/v1/security-groups', JSON.stringify(body.securityGroup(name, env)))).json.id;
    const data = body.vm(name, env, sg);
    const created = await send('POST', '/api/v1/vms', JSON.stringify(data));
    expect(created.status, 'any 2xx is success for the provider').to.equal(202);
    expect(created.json.id).to.match(/^vm-/);
    expect(created.json.status).to.equal('creating');
    expectEchoed(created.json, data);

    await waitFor('status', 'vms', created.json.id, 'running');
    const read = await send('GET', `/api/v1/vms/${created.json.id}`);
    expect(read.json.status).to.equal('running');
    expectEchoed(read.json, data);

    // The whole document goes back, size and image included, unchanged: accepted while running.
    const changed = { ...data, tags: { ...data.tags, owner: 'ops' } };
    const updated = await send('PATCH', `/api/v1/vms/${created.json.id}`, JSON.stringify(changed));
    expect(updated.status).to.equal(200);
    expectEchoed(updated.json, changed);

    // The documented limits: a resize needs the VM stopped first; image is in force_new.
    const resized = await send('PATCH', `/api/v1/vms/${created.json.id}`, JSON.stringify({ ...changed, size: 'large' }));
    expect(resized.status).to.equal(409);
    expect(resized.json.code).to.equal('invalid_state');
    const reimaged = await send('PATCH', `/api/v1/vms/${created.json.id}`, JSON.stringify({ ...changed, image: 'debian-12' }));
    expect(reimaged.json.code).to.equal('immutable_field');

    expect((await send('DELETE', `/api/v1/vms/${created.json.id}`)).status).to.equal(202);
    // What the environment's and the security group's destroy-time provisioners wait for.
    await waitFor('no-vms', env);
    expect((await send('GET', `/api/v1/vms/${created.json.id}`)).status).to.equal(404);
    expect((await send('DELETE', `/api/v1/security-groups/${sg}`)).status).to.equal(204);
    await waitFor('empty', env);
    expect((await send('DELETE', `/api/v1/environments/${env}`)).status).to.equal(204);
  });

  it('volume and attachment: attach via create_path, read back as the volume, detach via destroy_path, then DELETE', async () => {
    const name = uniq('tf');
    const env = await newEnvironment(name);
    const sg = (await send('POST', '/api/v1/security-groups', JSON.stringify(body.securityGroup(name, env)))).json.id;
    const vm = (await send('POST', '/api/v1/vms', JSON.stringify(body.vm(name, env, sg)))).json.id;
    const data = body.volume(name, env);
    const created = await send('POST', '/api/v1/volumes', JSON.stringify(data));
    expect(created.status).to.equal(202);
    expect(created.json.id).to.match(/^vol-/);
    expectEchoed(created.json, data);
    await waitFor('status', 'volumes', created.json.id, 'available');
    await waitFor('status', 'vms', vm, 'running');
    expectEchoed((await send('GET', `/api/v1/volumes/${created.json.id}`)).json, data);

    const grown = { ...data, size_gb: 30 };
    const updated = await send('PATCH', `/api/v1/volumes/${created.json.id}`, JSON.stringify(grown));
    expect([200, 202]).to.include(updated.status);
    expect(updated.json.id).to.equal(created.json.id);
    await waitFor('status', 'volumes', created.json.id, 'available');
    expectEchoed((await send('GET', `/api/v1/volumes/${created.json.id}`)).json, grown);

    // restapi_object.data_on_app: data is "{}", the id comes from the answer (the volume's).
    const attached = await send('POST', `/api/v1/volumes/${created.json.id}/attach/${vm}`, JSON.stringify({}));
    expect(attached.status).to.equal(202);
    expect(attached.json.id, 'the attachment is tracked under the volume id').to.equal(created.json.id);
    await waitFor('status', 'volumes', created.json.id, 'in-use');
    const read = await send('GET', `/api/v1/volumes/${created.json.id}`);
    expect(read.json.attachment).to.deep.equal({ vm_id: vm, device: '/dev/vdb' });

    // A DELETE while attached is refused: hence the attachment is destroyed (detached) first.
    expect((await send('DELETE', `/api/v1/volumes/${created.json.id}`)).json.code).to.equal('volume_in_use');
    const detached = await send('POST', `/api/v1/volumes/${created.json.id}/detach`, '');
    expect(detached.status).to.equal(202);
    await waitFor('status', 'volumes', created.json.id, 'available');

    expect((await send('DELETE', `/api/v1/volumes/${created.json.id}`)).status).to.equal(202);
    for (let i = 0; i < 200 && (await send('GET', `/api/v1/volumes/${created.json.id}`)).status !== 404; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await send('GET', `/api/v1/volumes/${created.json.id}`)).status).to.equal(404);
  });

  it('wait-for.sh fails, with the API error, when a resource lands in error', async () => {
    const name = uniq('tf');
    const env = await newEnvironment(name);
    const created = await send('POST', '/api/v1/volumes', JSON.stringify({ ...body.volume(name, env), tags: { 'mockcloud:outcome': 'fail' } }));
    const err = await waitFor('status', 'volumes', created.json.id, 'available').then(
      () => expect.fail('the wait should fail'),
      (e: { code: number; stderr: string }) => e,
    );
    expect(err.code).to.equal(1);
    expect(err.stderr).to.contain('provisioning_failed');
  });
});
