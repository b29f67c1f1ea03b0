// Pulumi's own dynamic provider host (the `pulumi-resource-pulumi-nodejs` plugin shipped inside
// @pulumi/pulumi), started and driven over gRPC the way the engine does it. The request shapes follow
// the engine's provider plugin client (pkg/resource/plugin/provider_plugin.go in pulumi/pulumi):
// GetPluginInfo, Handshake (UNIMPLEMENTED here: the engine then carries on without it), CheckConfig
// (likewise), Configure with the whole namespaced stack config as `variables` and as the `args`
// Struct (secrets wrapped), then Check/Diff/Create/Read/Update/Delete with Structs. Errors reach the
// engine as gRPC statuses (UNKNOWN + message), a partial create as ErrorResourceInitFailed in the
// status details. Nothing here calls provider code in-process.

import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as pulumi from '@pulumi/pulumi';

const require = createRequire(import.meta.url);
const providerPb = require('@pulumi/pulumi/proto/provider_pb.js') as any;
const providerGrpc = require('@pulumi/pulumi/proto/provider_grpc_pb.js') as any;
const pluginPb = require('@pulumi/pulumi/proto/plugin_pb.js') as any;
const engineGrpc = require('@pulumi/pulumi/proto/engine_grpc_pb.js') as any;
const statusPb = require('@pulumi/pulumi/proto/status_pb.js') as any;
const structPb = require('google-protobuf/google/protobuf/struct_pb.js') as any;
const emptyPb = require('google-protobuf/google/protobuf/empty_pb.js') as any;

/** The repository root: the plugin script resolves @pulumi/pulumi from its working directory. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const PLUGIN = path.join(ROOT, 'node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs');

/** What the engine sends for an output not known yet (previews). */
export const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
/** The engine's wire form of a secret (sig.Secret) in a Struct. */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';
const SECRET_VALUE = '1b47061264138c4ac30d75fd1eb44270';
export const secret = (value: unknown) => ({ [SECRET_SIG]: SECRET_VALUE, value });

export type Bag = Record<string, any>;

/** A gRPC failure as the engine receives it. */
export interface HostError extends Error {
  grpcCode: number;
  details: string;
  /** Present when the provider created something that did not finish initialising. */
  initFailed?: { id: string; properties: Bag; reasons: string[] };
}

const toStruct = (bag: Bag) => structPb.Struct.fromJavaScript(bag);
const fromStruct = (s: any): Bag => (s ? (s.toJavaScript() as Bag) : {});

function hostError(err: grpc.ServiceError): HostError {
  const e = Object.assign(new Error(err.details || err.message), { grpcCode: err.code, details: err.details }) as HostError;
  // The engine's resourceStateAndError: a Status in grpc-status-details-bin carrying an ErrorResourceInitFailed.
  const raw = err.metadata?.get('grpc-status-details-bin')?.[0];
  if (raw) {
    const status = statusPb.Status.deserializeBinary(new Uint8Array(raw as Buffer));
    for (const any of status.getDetailsList()) {
      if (any.getTypeName() === 'pulumirpc.ErrorResourceInitFailed') {
        const d = providerPb.ErrorResourceInitFailed.deserializeBinary(any.getValue_asU8());
        e.initFailed = { id: d.getId(), properties: fromStruct(d.getProperties()), reasons: d.getReasonsList() };
      }
    }
  }
  return e;
}

/** A stand-in for the engine's gRPC service (`Engine`), whose address every plugin is started with. */
export async function startFakeEngine(): Promise<{ address: string; logs: string[]; close: () => Promise<void> }> {
  const server = new grpc.Server();
  const logs: string[] = [];
  server.addService(engineGrpc.EngineService, {
    log: (call: any, cb: any) => {
      logs.push(call.request.getMessage());
      cb(null, new emptyPb.Empty());
    },
    getRootResource: (_call: any, cb: any) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' }),
    setRootResource: (_call: any, cb: any) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' }),
    startDebugging: (_call: any, cb: any) => cb(null, new emptyPb.Empty()),
    requirePulumiVersion: (_call: any, cb: any) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'not in this test' }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, logs, close: () => new Promise((r) => server.tryShutdown(() => r())) };
}

export interface ProviderHost {
  /** The host's stderr so far (it prints provider exceptions there). */
  stderr: () => string;
  call<T = any>(method: string, request: any): Promise<T>;
  close(): Promise<void>;
}

/**
 * Runs the plugin as the engine does: the executable with the engine's address as its argument; the
 * plugin prints the port it listens on as its first line of stdout.
 */
export async function startProviderHost(engineAddress: string, env: NodeJS.ProcessEnv = process.env): Promise<ProviderHost> {
  // In its own process group: the plugin is a shell script that runs node as its child, so ending
  // only the script would leave the host running. The engine ends plugins the same way.
  const child: ChildProcess = spawn(PLUGIN, [engineAddress], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const line = out.split('\n')[0]!;
      if (out.includes('\n') && /^\d+$/.test(line.trim())) {
        child.stdout!.off('data', onData);
        resolve(Number(line.trim()));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the provider host exited (${code}) before printing its port: ${stderr}`)));
    child.once('error', reject);
  });
  const client = new providerGrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return {
    stderr: () => stderr,
    call: (method, request) =>
      new Promise((resolve, reject) =>
        client[method](request, (err: grpc.ServiceError | null, res: any) => (err ? reject(hostError(err)) : resolve(res))),
      ),
    close: async () => {
      client.close();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
    },
  };
}

/** What `new pulumi.dynamic.Resource(provider, …)` puts in `__provider`: the serialized provider module. */
export async function serializeProvider(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
  return (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text;
}

export interface ConfigureResult {
  acceptSecrets: boolean;
  supportsPreview: boolean;
  acceptResources: boolean;
}

/** One resource as the engine's state records it. */
export interface StateEntry {
  urn: string;
  type: string;
  id: string;
  inputs: Bag;
  outputs: Bag;
}

export interface DiffResult {
  changes: 'DIFF_UNKNOWN' | 'DIFF_NONE' | 'DIFF_SOME';
  replaces: string[];
  deleteBeforeReplace: boolean;
}

const DIFF_NAMES: Record<number, DiffResult['changes']> = { 0: 'DIFF_UNKNOWN', 1: 'DIFF_NONE', 2: 'DIFF_SOME' };

/**
 * The engine's side of the conversation for one stack: urns, the order of calls per step, and what
 * it stores. `type` is the dynamic resource's token, e.g. `pulumi-nodejs:dynamic/mockcloud:Vm`.
 */
export class Engine {
  constructor(
    private readonly host: ProviderHost,
    readonly project = 'mockcloud-example',
    readonly stack = 'e2e',
  ) {}

  urn(type: string, name: string): string {
    return `urn:pulumi:${this.stack}::${this.project}::${type}::${name}`;
  }

  async getPluginInfo(): Promise<string> {
    const info = await this.host.call('getPluginInfo', new emptyPb.Empty());
    return info.getVersion();
  }

  async handshake(rootDirectory: string, engineAddress: string): Promise<'ok' | 'unimplemented'> {
    const req = new providerPb.ProviderHandshakeRequest();
    req.setEngineAddress(engineAddress);
    req.setRootDirectory(rootDirectory);
    req.setProgramDirectory(rootDirectory);
    req.setConfigureWithUrn(true);
    req.setSupportsViews(true);
    req.setSupportsRefreshBeforeUpdate(true);
    req.setInvokeWithPreview(true);
    try {
      await this.host.call('handshake', req);
      return 'ok';
    } catch (e) {
      if ((e as HostError).grpcCode === grpc.status.UNIMPLEMENTED) return 'unimplemented';
      throw e;
    }
  }

  /** CheckConfig; UNIMPLEMENTED means the engine takes the inputs as they are. */
  async checkConfig(config: Bag): Promise<Bag> {
    const req = new providerPb.CheckRequest();
    const urn = this.urn('pulumi:providers:pulumi-nodejs', 'default');
    req.setUrn(urn);
    req.setName('default');
    req.setType('pulumi:providers:pulumi-nodejs');
    req.setOlds(toStruct({}));
    req.setNews(toStruct(config));
    try {
      return fromStruct((await this.host.call('checkConfig', req)).getInputs());
    } catch (e) {
      if ((e as HostError).grpcCode === grpc.status.UNIMPLEMENTED) return config;
      throw e;
    }
  }

  /**
   * The default provider of package `pulumi-nodejs` is configured with the FULL stack config, keys
   * kept namespaced (deploy.Target.GetPackageConfig for dynamic providers), in `args` with secrets
   * wrapped and in the deprecated `variables` map as `<pkg>:config:<key>` with secrets unwrapped.
   */
  async configure(config: Bag): Promise<ConfigureResult> {
    const checked = await this.checkConfig(config);
    const req = new providerPb.ConfigureRequest();
    const vars = req.getVariablesMap();
    for (const [k, v] of Object.entries(checked)) {
      const plain = v && typeof v === 'object' && SECRET_SIG in v ? v.value : v;
      vars.set(`pulumi-nodejs:config:${k}`, typeof plain === 'string' ? plain : JSON.stringify(plain));
    }
    req.setArgs(toStruct(checked));
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    req.setSendsOldInputs(true);
    req.setSendsOldInputsToDelete(true);
    req.setUrn(this.urn('pulumi:providers:pulumi-nodejs', 'default'));
    req.setName('default');
    req.setType('pulumi:providers:pulumi-nodejs');
    const res = await this.host.call('configure', req);
    return { acceptSecrets: res.getAcceptsecrets(), supportsPreview: res.getSupportspreview(), acceptResources: res.getAcceptresources() };
  }

  async check(type: string, name: string, olds: Bag, news: Bag): Promise<{ inputs: Bag; failures: { property: string; reason: string }[] }> {
    const req = new providerPb.CheckRequest();
    req.setUrn(this.urn(type, name));
    req.setName(name);
    req.setType(type);
    req.setOlds(toStruct(olds));
    req.setNews(toStruct(news));
    req.setRandomseed(new Uint8Array(32));
    const res = await this.host.call('check', req);
    return {
      inputs: fromStruct(res.getInputs()),
      failures: res.getFailuresList().map((f: any) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(entry: StateEntry, news: Bag): Promise<DiffResult> {
    const name = entry.urn.split('::').pop()!;
    const req = new providerPb.DiffRequest();
    req.setId(entry.id);
    req.setUrn(entry.urn);
    req.setName(name);
    req.setType(entry.type);
    req.setOlds(toStruct(entry.outputs));
    req.setNews(toStruct(news));
    req.setOldInputs(toStruct(entry.inputs));
    req.setIgnorechangesList([]);
    const res = await this.host.call('diff', req);
    return { changes: DIFF_NAMES[res.getChanges()]!, replaces: res.getReplacesList(), deleteBeforeReplace: res.getDeletebeforereplace() };
  }

  async create(type: string, name: string, inputs: Bag, timeoutS = 0): Promise<StateEntry> {
    const req = new providerPb.CreateRequest();
    req.setUrn(this.urn(type, name));
    req.setName(name);
    req.setType(type);
    req.setProperties(toStruct(inputs));
    req.setTimeout(timeoutS);
    req.setPreview(false);
    const res = await this.host.call('create', req);
    return { urn: this.urn(type, name), type, id: res.getId(), inputs, outputs: fromStruct(res.getProperties()) };
  }

  /** Refresh: the stored outputs as `properties`, the stored inputs as `inputs`; an empty id means gone. */
  async read(entry: StateEntry): Promise<StateEntry | undefined> {
    const req = new providerPb.ReadRequest();
    req.setId(entry.id);
    req.setUrn(entry.urn);
    req.setName(entry.urn.split('::').pop()!);
    req.setType(entry.type);
    req.setProperties(toStruct(entry.outputs));
    req.setInputs(toStruct(entry.inputs));
    const res = await this.host.call('read', req);
    if (!res.getId()) return undefined;
    const inputs = res.getInputs() ? fromStruct(res.getInputs()) : entry.inputs;
    return { ...entry, id: res.getId(), inputs, outputs: fromStruct(res.getProperties()) };
  }

  async update(entry: StateEntry, news: Bag, timeoutS = 0): Promise<StateEntry> {
    const req = new providerPb.UpdateRequest();
    req.setId(entry.id);
    req.setUrn(entry.urn);
    req.setName(entry.urn.split('::').pop()!);
    req.setType(entry.type);
    req.setOlds(toStruct(entry.outputs));
    req.setNews(toStruct(news));
    req.setOldInputs(toStruct(entry.inputs));
    req.setTimeout(timeoutS);
    req.setIgnorechangesList([]);
    req.setPreview(false);
    const res = await this.host.call('update', req);
    return { ...entry, inputs: news, outputs: fromStruct(res.getProperties()) };
  }

  async delete(entry: StateEntry, timeoutS = 0): Promise<void> {
    const req = new providerPb.DeleteRequest();
    req.setId(entry.id);
    req.setUrn(entry.urn);
    req.setName(entry.urn.split('::').pop()!);
    req.setType(entry.type);
    req.setProperties(toStruct(entry.outputs));
    req.setOldInputs(toStruct(entry.inputs));
    req.setTimeout(timeoutS);
    await this.host.call('delete', req);
  }

  /**
   * `pulumi up` for one resource already in the state: check the new program's inputs, diff them,
   * and then nothing (DIFF_NONE), update, or replace (create-then-delete, or delete-then-create when
   * the provider asks for deleteBeforeReplace).
   */
  async up(entry: StateEntry, program: Bag): Promise<{ step: 'same' | 'update' | 'replace'; diff: DiffResult; entry: StateEntry }> {
    const name = entry.urn.split('::').pop()!;
    const checked = await this.check(entry.type, name, entry.inputs, program);
    if (checked.failures.length) throw new Error(`check failed: ${JSON.stringify(checked.failures)}`);
    const diff = await this.diff(entry, checked.inputs);
    if (diff.changes !== 'DIFF_SOME') return { step: 'same', diff, entry };
    if (diff.replaces.length === 0) return { step: 'update', diff, entry: await this.update(entry, checked.inputs) };
    if (diff.deleteBeforeReplace) {
      await this.delete(entry);
      return { step: 'replace', diff, entry: await this.create(entry.type, name, checked.inputs) };
    }
    const created = await this.create(entry.type, name, checked.inputs);
    await this.delete(entry);
    return { step: 'replace', diff, entry: created };
  }
}

/** `pulumi-nodejs:dynamic/mockcloud:<Kind>`, as `new pulumi.dynamic.Resource(…, 'mockcloud', '<Kind>')` names it. */
export const dynamicType = (kind: string) => `pulumi-nodejs:dynamic/mockcloud:${kind}`;

/** Struct's wire form: what survives a round trip through google.protobuf.Struct (no undefined). */
export const asStruct = (bag: Bag): Bag => fromStruct(toStruct(bag));
