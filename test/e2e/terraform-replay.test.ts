// examples/terraform against a live mockcloud, as Mastercard/restapi 3.0.0 (the current major, pinned
// `~> 3.0` in versions.tf) would drive it: the same requests, bodies and headers, and the same plan
// decisions. The provider's behaviour is re-stated here from its source (v3.0.0):
//   internal/apiclient/client.go   SendRequest: Content-Type only with a body, the configured headers
//                                  (bearer_token → Authorization), any non-2xx is an error
//   internal/apiclient/object.go   CreateObject / ReadObject / UpdateObject / DeleteObject: one request
//                                  each; the body is json.Marshal of `data` (keys sorted); a 404 on
//                                  read clears the id; a 404/410 on delete is success
//   internal/provider/resource_api_object.go
//       Read        keeps the recorded `data` when ignore_server_additions is set, else stores the
//                   answer (through getDelta when ignore_changes_to is set)
//       ModifyPlan  force_new compares each listed field of recorded vs planned `data` (fmt %v)
//       ImportState /<path>/<id>: GET, stores the answer as `data`, debug = true; Terraform then
//                   runs Read, so an import costs two GETs
//   internal/provider/delta_checker.go   getDelta
// Terraform itself compares `data` as normalized JSON (jsontypes.Normalized) and plans a
// replacement when ModifyPlan reports RequiresReplace. No Terraform binary is needed.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniq } from '../support/http.js';
import { startTestApi, type TestApi } from '../support/stack.js';
import { startDroppingProxy, type SeenRequest } from './support/dropping-proxy.js';

const exampleDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/terraform');

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, Json>;

/** Go's encoding/json.Marshal of a map: keys sorted at every level. */
const goJson = (v: Json): string => {
  if (Array.isArray(v)) return `[${v.map(goJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${goJson(v[k]!)}`).join(',')}}`;
  return JSON.stringify(v);
};
/** fmt.Sprintf("%v") of a decoded JSON value, as api_data and force_new see it. */
const goFmt = (v: Json | undefined): string => {
  if (v === undefined || v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFmt).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.keys(v).sort().map((k) => `${k}:${goFmt(v[k])}`).join(' ')}]`;
  return String(v);
};
const sameJson = (a: string, b: string) => goJson(JSON.parse(a)) === goJson(JSON.parse(b));

/** delta_checker.go getDelta: the recorded document overlaid with what changed on the server. */
function getDelta(recorded: Obj, actual: Obj, ignore: string[], ignoreServerAdditions: boolean): { merged: Obj; changed: boolean } {
  const merged: Obj = {};
  let changed = false;
  for (const [k, rec] of Object.entries(recorded)) {
    if (ignore.includes(k)) {
      merged[k] = rec;
      continue;
    }
    const act = actual[k];
    if (rec === null) {
      merged[k] = act ?? null;
      if (act !== undefined && act !== null) changed = true;
    } else if (typeof rec === 'object' && !Array.isArray(rec)) {
      if (!act || typeof act !== 'object' || Array.isArray(act)) {
        merged[k] = act ?? null;
        changed = true;
        continue;
      }
      const deeper = ignore.filter((p) => p.split('.')[0] === k).map((p) => p.split('.').slice(1).join('.'));
      const sub = getDelta(rec, act, deeper, ignoreServerAdditions);
      merged[k] = sub.changed ? sub.merged : rec;
      changed ||= sub.changed;
    } else if (Array.isArray(rec)) {
      const same = goJson(rec) === goJson(act ?? null);
      merged[k] = same ? rec : (act ?? null);
      changed ||= !same;
    } else if (rec !== act) {
      merged[k] = act ?? null;
      changed = true;
    } else merged[k] = rec;
  }
  for (const [k, act] of Object.entries(actual)) {
    if (k in recorded || ignore.includes(k) || ignoreServerAdditions) continue;
    merged[k] = act;
    changed = true;
  }
  return { merged, changed };
}

/** utils.go getNestedValue: "a.b" into nested maps; undefined when absent. */
const nested = (data: Obj, field: string): Json | undefined => {
  let cur: Json | undefined = data;
  for (const part of field.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !(part in cur)) return undefined;
    cur = cur[part];
  }
  return cur;
};

/** A `restapi_object` block: the attributes main.tf sets. */
interface ObjectConfig {
  path: string;
  data: string;
  create_path?: string;
  destroy_path?: string;
  destroy_method?: string;
  force_new?: string[];
  ignore_server_additions?: boolean;
  ignore_changes_to?: string[];
}

/** What Terraform's state holds for one object. */
interface ObjectState extends ObjectConfig {
  id: string;
  object_id?: string;
  debug?: boolean;
  api_data: Record<string, string>;
  api_response: string;
  create_response?: string;
}

interface ProviderConfig {
  bearer_token: string;
  headers: Record<string, string>;
  update_method: string;
  destroy_method: string;
}

type PlanAction = 'no-op' | 'update' | 'replace';

class RestapiV3 {
  constructor(
    private readonly uri: string,
    private readonly provider: ProviderConfig,
  ) {}

  /** client.go SendRequest */
  private async send(method: string, p: string, data: string): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = {};
    if (data !== '') headers['Content-Type'] = 'application/json';
    Object.assign(headers, this.provider.headers);
    if (this.provider.bearer_token) headers.Authorization = `Bearer ${this.provider.bearer_token}`;
    const res = await fetch(this.uri + p, { method, headers, body: data === '' ? undefined : data });
    const body = await res.text();
    if (res.status < 200 || res.status >= 300) throw Object.assign(new Error(`unexpected response code '${res.status}': ${body}`), { status: res.status });
    return { status: res.status, body: body === '' ? '{}' : body };
  }

  private readPath = (c: ObjectConfig, id: string) => `${c.path}/${id}`;

  private stateFrom(c: ObjectConfig, id: string, response: string): Pick<ObjectState, 'id' | 'api_data' | 'api_response'> {
    const parsed = JSON.parse(response) as Obj;
    return { id, api_response: response, api_data: Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, goFmt(v)])) };
  }

  async create(c: ObjectConfig): Promise<ObjectState> {
    const data = JSON.parse(c.data) as Obj;
    const { body } = await this.send('POST', c.create_path ?? c.path, goJson(data));
    const id = String((JSON.parse(body) as Obj).id);
    return { ...c, ...this.stateFrom(c, id, body), create_response: body };
  }

  /** Read: undefined when the object is gone (the provider clears the id). */
  async read(s: ObjectState): Promise<ObjectState | undefined> {
    const id = s.object_id ?? s.id;
    let body: string;
    try {
      body = (await this.send('GET', this.readPath(s, id), '')).body;
    } catch (e) {
      if ((e as { status?: number }).status === 404) return undefined;
      throw e;
    }
    let objString = body;
    if (s.ignore_changes_to?.length) {
      objString = goJson(getDelta(JSON.parse(s.data), JSON.parse(body), s.ignore_changes_to, s.ignore_server_additions === true).merged);
    }
    return { ...s, data: s.ignore_server_additions === true ? s.data : objString, ...this.stateFrom(s, id, body) };
  }

  /** Terraform's plan of `config` against the refreshed state, with the provider's ModifyPlan. */
  plan(s: ObjectState, c: ObjectConfig): { action: PlanAction; replaceBecause: string[] } {
    const attrs: (keyof ObjectConfig | 'object_id' | 'debug')[] = ['path', 'create_path', 'destroy_path', 'destroy_method', 'force_new', 'ignore_server_additions', 'ignore_changes_to', 'object_id', 'debug'];
    const differs = !sameJson(s.data, c.data) || attrs.some((a) => goJson(((c as unknown as Obj)[a] ?? null) as Json) !== goJson(((s as unknown as Obj)[a] ?? null) as Json));
    const replaceBecause: string[] = [];
    const planData = JSON.parse(c.data) as Obj;
    const stateData = JSON.parse(s.data) as Obj;
    for (const field of c.force_new ?? []) {
      const was = nested(stateData, field);
      if (was !== undefined && goFmt(nested(planData, field)) !== goFmt(was)) replaceBecause.push(field);
    }
    return { action: replaceBecause.length ? 'replace' : differs ? 'update' : 'no-op', replaceBecause };
  }

  async update(s: ObjectState, c: ObjectConfig): Promise<ObjectState> {
    const { body } = await this.send(this.provider.update_method, this.readPath(c, s.id), goJson(JSON.parse(c.data)));
    return { ...c, ...this.stateFrom(c, s.id, body), create_response: s.create_response };
  }

  async delete(s: ObjectState): Promise<void> {
    const p = (s.destroy_path ?? `${s.path}/{id}`).replace('{id}', s.id);
    try {
      await this.send(s.destroy_method ?? this.provider.destroy_method, p, '');
    } catch (e) {
      if (![404, 410].includes((e as { status?: number }).status ?? 0)) throw e;
    }
  }

  /** `terraform import <addr> /<path>/<id>`: ImportState, then Terraform's Read. */
  async import(importId: string): Promise<ObjectState> {
    const input = importId.replace(/^\/|\/$/g, '');
    const n = input.lastIndexOf('/');
    const objectId = input.slice(n + 1);
    const p = `/${input.slice(0, n)}`;
    const { body } = await this.send('GET', `${p}/${objectId}`, '');
    const imported: ObjectState = { path: p, object_id: objectId, debug: true, data: body, ...this.stateFrom({ path: p, data: body }, objectId, body) };
    return (await this.read(imported))!;
  }

  /** `terraform apply`: refresh, plan, and carry the plan out (destroy-then-create for a replacement). */
  async apply(s: ObjectState, c: ObjectConfig): Promise<{ action: PlanAction; state: ObjectState }> {
    const refreshed = (await this.read(s))!;
    const { action } = this.plan(refreshed, c);
    if (action === 'no-op') return { action, state: refreshed };
    if (action === 'update') return { action, state: await this.update(refreshed, c) };
    await this.delete(refreshed);
    return { action, state: await this.create(c) };
  }
}

/** main.tf's resources, with the ids Terraform would interpolate. */
const configs = {
  environment: (name: string, tags: Obj = { 'managed-by': 'terraform' }): ObjectConfig => ({
    path: '/api/v1/environments',
    data: JSON.stringify({ name, cidr: '10.30.0.0/24', tags }),
    ignore_server_additions: true,
    force_new: ['cidr'],
  }),
  securityGroup: (name: string, environment_id: string): ObjectConfig => ({
    path: '/api/v1/security-groups',
    data: JSON.stringify({
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
    ignore_server_additions: true,
    force_new: ['environment_id'],
  }),
  vm: (name: string, environment_id: string, sg: string, extra: Obj = {}): ObjectConfig => ({
    path: '/api/v1/vms',
    data: JSON.stringify({ name, environment_id, size: 'medium', image: 'ubuntu-24.04', security_group_ids: [sg], tags: { 'managed-by': 'terraform', 'mockcloud:duration': '0' }, ...extra }),
    ignore_server_additions: true,
    force_new: ['environment_id', 'image'],
  }),
  volume: (name: string, environment_id: string): ObjectConfig => ({
    path: '/api/v1/volumes',
    data: JSON.stringify({ name, environment_id, size_gb: 20, type: 'ssd', tags: { 'managed-by': 'terraform', 'mockcloud:duration': '0' } }),
    ignore_server_additions: true,
    force_new: ['environment_id', 'type'],
  }),
  attachment: (volumeId: string, vmId: string): ObjectConfig => ({
    path: '/api/v1/volumes',
    create_path: `/api/v1/volumes/${volumeId}/attach/${vmId}`,
    destroy_path: '/api/v1/volumes/{id}/detach',
    destroy_method: 'POST',
    data: JSON.stringify({}),
    ignore_server_additions: true,
  }),
};

describe('Terraform example: replay of Mastercard/restapi 3.0.0 against the API', function () {
  this.timeout(120_000);
  let api: TestApi;
  let proxy: Awaited<ReturnType<typeof startDroppingProxy>>;
  let tf: RestapiV3;
  const TOKEN = 'tf-e2e-token';
  const provider: ProviderConfig = { bearer_token: TOKEN, headers: { Prefer: 'wait=300' }, update_method: 'PUT', destroy_method: 'DELETE' };

  before(async () => {
    api = await startTestApi({ timeScale: 0.01, failureRate: 0 });
    proxy = await startDroppingProxy(api.baseUrl, () => false);
    tf = new RestapiV3(proxy.url, provider);
  });
  after(async () => {
    await proxy?.close();
    await api?.close();
  });

  const requests = (from: number) => proxy.seen.slice(from).map((s: SeenRequest) => `${s.method} ${s.path} ${s.status}`);

  it('main.tf and versions.tf carry the settings this replay uses', () => {
    const main = readFileSync(path.join(exampleDir, 'main.tf'), 'utf8');
    const versions = readFileSync(path.join(exampleDir, 'versions.tf'), 'utf8');
    expect(versions).to.match(/source\s*=\s*"Mastercard\/restapi"/).and.match(/version\s*=\s*"~> 3\.0"/);
    for (const setting of [/update_method\s*=\s*"PUT"/, /destroy_method\s*=\s*"DELETE"/, /create_returns_object\s*=\s*true/, /write_returns_object\s*=\s*true/, /id_attribute\s*=\s*"id"/, /bearer_token\s*=\s*var\.token/, /"Prefer"\s*=\s*"wait=\$\{var\.wait_seconds\}"/]) {
      expect(main).to.match(setting);
    }
    expect(main.match(/resource "restapi_object"/g)).to.have.length(6);
    expect(main.match(/ignore_server_additions\s*=\s*true/g), 'every object ignores server additions').to.have.length(6);
    const forceNew = [...main.matchAll(/force_new\s*=\s*(\[[^\]]*\])/g)].map((m) => JSON.parse(m[1]!) as string[]);
    const replayed = [configs.environment('n'), configs.securityGroup('n', 'e'), configs.vm('n', 'e', 's'), configs.vm('n', 'e', 's'), configs.volume('n', 'e')];
    expect(forceNew).to.deep.equal(replayed.map((c) => c.force_new));
  });

  it('apply creates everything settled (no 202), then plan is a no-op; destroy leaves nothing', async () => {
    const name = uniq('tf');
    const from = proxy.seen.length;
    const env = await tf.create(configs.environment(name));
    const sg = await tf.create(configs.securityGroup(name, env.id));
    const app = await tf.create(configs.vm(`${name}-app`, env.id, sg.id));
    const data = await tf.create(configs.volume(`${name}-data`, env.id));
    const attach = await tf.create(configs.attachment(data.id, app.id));
    expect(requests(from)).to.deep.equal([
      'POST /api/v1/environments 201',
      'POST /api/v1/security-groups 201',
      'POST /api/v1/vms 201',
      'POST /api/v1/volumes 201',
      `POST /api/v1/volumes/${data.id}/attach/${app.id} 200`,
    ]);
    expect(app.api_data.status, 'the create answer is the running VM').to.equal('running');
    expect(app.api_data.private_ip).to.match(/^10\.30\.0\.\d+$/);
    expect(attach.id, 'the attachment is read back as the volume').to.equal(data.id);
    expect(JSON.parse(attach.api_response).status).to.equal('in-use');
    expect(proxy.seen.slice(from).every((s) => s.authorization === `Bearer ${TOKEN}`), 'bearer_token on every request').to.equal(true);

    const states = [env, sg, app, data, attach];
    const cfgs = [configs.environment(name), configs.securityGroup(name, env.id), configs.vm(`${name}-app`, env.id, sg.id), configs.volume(`${name}-data`, env.id), configs.attachment(data.id, app.id)];
    const planFrom = proxy.seen.length;
    for (const [i, s] of states.entries()) {
      const refreshed = (await tf.read(s))!;
      expect(tf.plan(refreshed, cfgs[i]!).action, `${cfgs[i]!.path}: apply → plan`).to.equal('no-op');
    }
    expect(requests(planFrom), 'one GET per object per refresh').to.deep.equal([
      `GET /api/v1/environments/${env.id} 200`,
      `GET /api/v1/security-groups/${sg.id} 200`,
      `GET /api/v1/vms/${app.id} 200`,
      `GET /api/v1/volumes/${data.id} 200`,
      `GET /api/v1/volumes/${data.id} 200`,
    ]);

    const destroyFrom = proxy.seen.length;
    for (const s of [attach, app, data, sg, env]) await tf.delete(s);
    expect(requests(destroyFrom), 'each delete ends before the next starts, so nothing is refused').to.deep.equal([
      `POST /api/v1/volumes/${data.id}/detach 200`,
      `DELETE /api/v1/vms/${app.id} 204`,
      `DELETE /api/v1/volumes/${data.id} 204`,
      `DELETE /api/v1/security-groups/${sg.id} 204`,
      `DELETE /api/v1/environments/${env.id} 204`,
    ]);
  });

  it('without ignore_server_additions every plan would update (the answer carries status, private_ip, …)', async () => {
    const name = uniq('tf');
    const cfg = { ...configs.environment(name), ignore_server_additions: undefined };
    const env = await tf.create(cfg);
    const refreshed = (await tf.read(env))!;
    expect(tf.plan(refreshed, cfg).action).to.equal('update');
    await tf.delete(env);
  });

  it('removing a tag in HCL removes it on the server (PUT), and the next plan is a no-op', async () => {
    const name = uniq('tf');
    const env = await tf.create(configs.environment(name, { 'managed-by': 'terraform', owner: 'team-a' }));
    const edited = configs.environment(name, { 'managed-by': 'terraform' });
    const from = proxy.seen.length;
    const applied = await tf.apply(env, edited);
    expect(applied.action).to.equal('update');
    expect(requests(from)).to.deep.equal([`GET /api/v1/environments/${env.id} 200`, `PUT /api/v1/environments/${env.id} 200`]);
    const sent = proxy.seen.at(-1)!;
    expect(JSON.parse(applied.state.api_response).tags).to.deep.equal({ 'managed-by': 'terraform' });
    expect(sent.body.tags, 'the server dropped the tag').to.deep.equal({ 'managed-by': 'terraform' });
    expect(tf.plan((await tf.read(applied.state))!, edited).action).to.equal('no-op');
    await tf.delete(applied.state);
  });

  it('an immutable change (image) and a taint recreate the VM under the same name: DELETE waits, so no 409', async () => {
    const name = uniq('tf');
    const env = await tf.create(configs.environment(name));
    const sg = await tf.create(configs.securityGroup(name, env.id));
    const vm = await tf.create(configs.vm(`${name}-app`, env.id, sg.id));

    const newImage = configs.vm(`${name}-app`, env.id, sg.id, { image: 'debian-12' });
    expect(tf.plan((await tf.read(vm))!, newImage)).to.deep.equal({ action: 'replace', replaceBecause: ['image'] });
    const from = proxy.seen.length;
    const replaced = await tf.apply(vm, newImage);
    expect(replaced.action).to.equal('replace');
    expect(requests(from)).to.deep.equal([`GET /api/v1/vms/${vm.id} 200`, `DELETE /api/v1/vms/${vm.id} 204`, 'POST /api/v1/vms 201']);
    expect(replaced.state.api_data).to.include({ image: 'debian-12', status: 'running' });

    // terraform taint (or apply -replace): destroy, then create — the same name right away.
    const tainted = replaced.state;
    const taintFrom = proxy.seen.length;
    await tf.delete(tainted);
    const recreated = await tf.create(newImage);
    expect(requests(taintFrom)).to.deep.equal([`DELETE /api/v1/vms/${tainted.id} 204`, 'POST /api/v1/vms 201']);
    expect(recreated.id).not.to.equal(tainted.id);
    expect(tf.plan((await tf.read(recreated))!, newImage).action).to.equal('no-op');

    for (const s of [recreated, sg, env]) await tf.delete(s);
  });

  it('import reads the object twice and plans an in-place update (no replacement) that changes nothing on the server', async () => {
    const name = uniq('tf');
    const env = await tf.create(configs.environment(name));
    const sg = await tf.create(configs.securityGroup(name, env.id));
    // A VM made outside Terraform, then written into main.tf and imported.
    const cfg = configs.vm(`${name}-app`, env.id, sg.id);
    const made = await fetch(`${api.baseUrl}/api/v1/vms`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'wait=30' }, body: cfg.data });
    const before = (await made.json()) as Obj;
    expect(made.status).to.equal(201);

    const from = proxy.seen.length;
    const imported = await tf.import(`/api/v1/vms/${before.id}`);
    expect(requests(from)).to.deep.equal([`GET /api/v1/vms/${before.id} 200`, `GET /api/v1/vms/${before.id} 200`]);
    const plan = tf.plan((await tf.read(imported))!, cfg);
    expect(plan, 'the state holds the whole answer and debug = true, so Terraform updates in place').to.deep.equal({ action: 'update', replaceBecause: [] });
    const applied = await tf.apply(imported, cfg);
    expect(applied.action).to.equal('update');
    const after = JSON.parse(applied.state.api_response) as Obj;
    const { updated_at: _a, ...afterStable } = after;
    const { updated_at: _b, ...beforeStable } = before;
    expect(afterStable, 'the PUT sent what the server already had').to.deep.equal(beforeStable);
    expect(tf.plan((await tf.read(applied.state))!, cfg).action).to.equal('no-op');

    for (const s of [applied.state, sg, env]) await tf.delete(s);
  });
});
