import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_SOURCES, loadConfig } from '../../core/config.js';
import { packageRoot } from '../../core/paths.js';

// Docker cannot run here, so these tests read docker-compose.yml and the Dockerfile and check them
// against what can be checked: the configuration module (core/config.ts), the CLI's commands, and
// the shape SPEC §2/§9 and issue 6 ask for (healthchecks, named volumes, depends_on on health,
// scalable workers, a non-root multi-stage image with production dependencies only).

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  entrypoint?: unknown;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | number | { target?: number | string; published?: number | string }>;
  expose?: Array<string | number>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  container_name?: string;
  restart?: string;
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const root = packageRoot();
const composeText = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
const dockerfileText = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
// Compose supports YAML merge keys (`<<: *anchor`); so must the parser used here.
const compose = parse(composeText, { merge: true }) as Compose;
const services = compose.services ?? {};

const APP_SERVICES = ['migrate', 'server', 'worker'] as const;
const DATASTORES = ['postgres', 'rabbitmq', 'redis'] as const;
const KNOWN_VARIABLES = new Set<string>(Object.values(CONFIG_SOURCES).map(([, variable]) => variable));

function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const i = entry.indexOf('=');
        return i < 0 ? [entry, ''] : [entry.slice(0, i), entry.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v == null ? '' : String(v)]));
}

/** [published (host) port or undefined, container port] for each `ports` entry. */
function portsOf(service: Service): Array<[string | undefined, string]> {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') return [p.published === undefined ? undefined : String(p.published), String(p.target)];
    const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
    const container = parts.at(-1)!;
    return [parts.length > 1 ? parts.at(-2)! : undefined, container];
  });
}

/** Ports the service's container listens on, as declared (`expose` and the container side of `ports`). */
function containerPortsOf(service: Service): string[] {
  return [...(service.expose ?? []).map(String), ...portsOf(service).map(([, c]) => c)];
}

function firstWord(command: string | string[] | undefined): string | undefined {
  if (command === undefined) return undefined;
  return Array.isArray(command) ? command[0] : command.trim().split(/\s+/)[0];
}

function dependsOn(service: Service): Record<string, string | undefined> {
  const d = service.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(d).map(([name, v]) => [name, v?.condition]));
}

/** Dockerfile instructions (continuations joined, comments dropped), grouped by FROM stage. */
interface Stage {
  from: string;
  name?: string;
  instructions: Array<{ op: string; args: string }>;
}
function dockerfileStages(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    // blank lines and comments, also inside a continued instruction, are dropped (as Docker does)
    if (line === '' || line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    current += line;
    if (current.trim()) logical.push(current.trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const instruction of logical) {
    const m = /^(\S+)\s*(.*)$/s.exec(instruction)!;
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args)!;
      stages.push({ from: f[1]!, name: f[2], instructions: [] });
    } else if (stages.length) {
      stages.at(-1)!.instructions.push({ op, args });
    }
  }
  return stages;
}

/** The CLI's command names, from `mockcloud --help` (the built CLI, as the image runs it). */
function cliCommands(): Set<string> {
  const out = execFileSync(process.execPath, [path.join(root, 'dist/cli/main.js'), '--help'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 15000,
  });
  const section = out.split(/^Commands:\s*$/m)[1] ?? '';
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    const m = /^ {2}([a-z][\w-]*)/.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

describe('unit: deployment (docker-compose.yml and Dockerfile)', () => {
  describe('docker-compose.yml', () => {
    it('parses as YAML and declares services', () => {
      expect(compose).to.be.an('object');
      expect(services).to.be.an('object').that.is.not.empty;
    });

    it('has PostgreSQL 15, RabbitMQ 3 with management, Redis 7, migrate, server and worker', () => {
      expect(services).to.include.all.keys(...DATASTORES, ...APP_SERVICES);
      expect(services.postgres!.image).to.match(/^postgres:15(\b|$)/);
      expect(services.rabbitmq!.image).to.match(/^rabbitmq:3[\w.-]*management/);
      expect(services.redis!.image).to.match(/^redis:7(\b|$)/);
    });

    it('builds migrate, server and worker from the Dockerfile, as one image', () => {
      const images = new Set<string | undefined>();
      for (const name of APP_SERVICES) {
        const s = services[name]!;
        expect(s.build, `${name}.build`).to.satisfy((b: unknown) => b === '.' || (typeof b === 'object' && b !== null));
        images.add(s.image);
      }
      expect(images.size, 'one image tag for migrate, server and worker').to.equal(1);
    });

    it('every long-running service has a healthcheck; migrate is a one-shot that is never restarted', () => {
      for (const [name, s] of Object.entries(services)) {
        if (name === 'migrate') continue;
        expect(s.healthcheck, `${name}.healthcheck`).to.be.an('object');
        expect(s.healthcheck!.disable, `${name}.healthcheck.disable`).to.not.equal(true);
        const test = s.healthcheck!.test;
        expect(test, `${name}.healthcheck.test`).to.satisfy((t: unknown) => (typeof t === 'string' && t.length > 0) || (Array.isArray(t) && t.length > 1));
      }
      expect(String(services.migrate!.restart), 'migrate.restart').to.equal('no');
    });

    it('datastore healthchecks use each server\'s own probe (pg_isready, rabbitmq-diagnostics ping, redis-cli ping)', () => {
      const testOf = (name: string) => [services[name]!.healthcheck!.test].flat().join(' ');
      expect(testOf('postgres')).to.contain('pg_isready');
      expect(testOf('rabbitmq')).to.match(/rabbitmq-diagnostics.*ping/);
      expect(testOf('redis')).to.match(/redis-cli.*ping/);
    });

    it('the server healthcheck asks /ready on the port the server listens on', () => {
      const test = [services.server!.healthcheck!.test].flat().join(' ');
      expect(test).to.contain('/ready');
      expect(test).to.match(/MOCKCLOUD_PORT|:8000\b/);
    });

    it('volumes are named and declared at the top level, one per datastore', () => {
      const declared = Object.keys(compose.volumes ?? {});
      for (const name of DATASTORES) {
        const volumes = services[name]!.volumes ?? [];
        expect(volumes, `${name}.volumes`).to.not.be.empty;
        for (const v of volumes) {
          const source = typeof v === 'string' ? v.split(':')[0]! : v.source ?? '';
          expect(source, `${name} volume ${JSON.stringify(v)} is named, not a host path`).to.match(/^[a-zA-Z0-9][\w.-]*$/);
          expect(declared, `volume ${source} declared under volumes:`).to.include(source);
        }
      }
    });

    it('server and worker wait for healthy datastores and for migrate to complete', () => {
      for (const name of ['server', 'worker']) {
        expect(dependsOn(services[name]!), `${name}.depends_on`).to.deep.include({
          postgres: 'service_healthy',
          rabbitmq: 'service_healthy',
          redis: 'service_healthy',
          migrate: 'service_completed_successfully',
        });
      }
      expect(dependsOn(services.migrate!), 'migrate.depends_on').to.deep.include({ postgres: 'service_healthy' });
    });

    it('worker service can be scaled: no container_name, no host ports', () => {
      const worker = services.worker!;
      expect(worker.container_name, 'worker.container_name').to.equal(undefined);
      expect(portsOf(worker).filter(([published]) => published !== undefined), 'worker published ports').to.be.empty;
      expect(worker.ports ?? [], 'worker.ports').to.be.empty;
    });

    it('every environment variable of migrate, server and worker is a mockcloud setting with a valid value', () => {
      for (const name of APP_SERVICES) {
        const env = envOf(services[name]!);
        expect(env, `${name}.environment`).to.not.be.empty;
        for (const variable of Object.keys(env)) {
          expect(KNOWN_VARIABLES.has(variable), `${name}: ${variable} is not in CONFIG_SOURCES (core/config.ts)`).to.equal(true);
        }
        expect(() => loadConfig(env), `${name}: loadConfig accepts its environment`).to.not.throw();
      }
    });

    it('server and worker run distributed (DATABASE_URL, AMQP_URL, REDIS_URL); migrate has DATABASE_URL', () => {
      for (const name of ['server', 'worker']) {
        expect(envOf(services[name]!), `${name}.environment`).to.include.keys('DATABASE_URL', 'AMQP_URL', 'REDIS_URL');
      }
      expect(envOf(services.migrate!)).to.include.keys('DATABASE_URL');
      expect(envOf(services.migrate!).DATABASE_URL, 'migrate migrates the database the server uses').to.equal(envOf(services.server!).DATABASE_URL);
      expect(envOf(services.worker!).DATABASE_URL, 'worker uses the database the server uses').to.equal(envOf(services.server!).DATABASE_URL);
    });

    it('DATABASE_URL, AMQP_URL and REDIS_URL name compose services by host, on the ports those services listen on', () => {
      const expected: Record<string, { service: string; image: RegExp }> = {
        DATABASE_URL: { service: 'postgres', image: /^postgres:/ },
        AMQP_URL: { service: 'rabbitmq', image: /^rabbitmq:/ },
        REDIS_URL: { service: 'redis', image: /^redis:/ },
      };
      for (const name of APP_SERVICES) {
        for (const [variable, value] of Object.entries(envOf(services[name]!))) {
          const want = expected[variable];
          if (!want) continue;
          const url = new URL(value);
          const target = services[url.hostname];
          expect(target, `${name}: ${variable} host ${url.hostname} is a compose service`).to.be.an('object');
          expect(url.hostname, `${name}: ${variable} points at the ${want.service} service`).to.equal(want.service);
          expect(target!.image, `${name}: ${variable} service image`).to.match(want.image);
          // explicit ports: the worker's healthcheck connects to them
          expect(url.port, `${name}: ${variable} has an explicit port`).to.not.equal('');
          expect(containerPortsOf(target!), `${name}: ${variable} port ${url.port} is a port ${url.hostname} listens on`).to.include(url.port);
        }
      }
    });

    it('DATABASE_URL carries the credentials and database the postgres service creates', () => {
      const pg = envOf(services.postgres!);
      const url = new URL(envOf(services.server!).DATABASE_URL!);
      expect(decodeURIComponent(url.username)).to.equal(pg.POSTGRES_USER ?? 'postgres');
      expect(decodeURIComponent(url.password)).to.equal(pg.POSTGRES_PASSWORD);
      expect(url.pathname.slice(1)).to.equal(pg.POSTGRES_DB ?? pg.POSTGRES_USER ?? 'postgres');
    });

    it('the server binds 0.0.0.0 and publishes the port it listens on (MOCKCLOUD_PORT)', () => {
      const env = envOf(services.server!);
      const config = loadConfig(env);
      expect(config.host).to.equal('0.0.0.0');
      const ports = portsOf(services.server!);
      expect(ports, 'server.ports').to.not.be.empty;
      for (const [published, container] of ports) {
        expect(container, 'server container port').to.equal(String(config.port));
        expect(published, 'server published port').to.equal(String(config.port));
      }
    });

    it("each app service's command is a command of the mockcloud CLI (up, server, migrate, worker all exist)", () => {
      const commands = cliCommands();
      for (const required of ['up', 'server', 'migrate', 'worker']) {
        expect(commands.has(required), `\`mockcloud ${required}\` exists (mockcloud --help lists: ${[...commands].join(', ')})`).to.equal(true);
      }
      for (const name of APP_SERVICES) {
        const cmd = firstWord(services[name]!.command);
        expect(cmd, `${name}.command`).to.equal(name);
        expect(services[name]!.entrypoint, `${name} keeps the image's entrypoint`).to.equal(undefined);
        expect(commands.has(cmd!), `${name}: \`mockcloud ${cmd}\` exists`).to.equal(true);
      }
    });
  });

  describe('Dockerfile', () => {
    const stages = dockerfileStages(dockerfileText);
    const final = stages.at(-1)!;
    const finalOps = (op: string) => final.instructions.filter((i) => i.op === op).map((i) => i.args);

    it('is multi-stage: at least two FROM stages, on Node 20', () => {
      expect(stages.length).to.be.at.least(2);
      const args = Object.fromEntries(
        [...dockerfileText.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]),
      );
      for (const s of stages) {
        const image = s.from.replace(/^\$\{?(\w+)\}?$/, (_, name: string) => args[name] ?? name);
        const fromStage = stages.some((t) => t.name === s.from);
        if (!fromStage) expect(image, `FROM ${s.from}`).to.match(/^node:20\b/);
      }
    });

    it('runs the final stage as a non-root user', () => {
      const users = finalOps('USER');
      expect(users, 'USER in the final stage').to.not.be.empty;
      expect(users.at(-1)!.split(':')[0]).to.not.match(/^(root|0)$/);
    });

    it('copies dist/, openapi.yaml and package.json into the final stage', () => {
      const copies = finalOps('COPY').join('\n');
      expect(copies).to.match(/\bdist\b/);
      expect(copies).to.match(/\bopenapi\.yaml\b/);
      expect(copies).to.match(/\bpackage\.json\b/);
    });

    it('installs production dependencies only in the final stage', () => {
      const installs = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN' && /\bnpm\s+(ci|install|i)\b/.test(i.args));
      const prodOnly = (args: string) => /--omit[= ]dev\b|--only[= ]prod(uction)?\b|--production\b/.test(args);
      // node_modules reach the final stage either installed there or copied from a stage
      const fromStages = finalOps('COPY')
        .filter((a) => /\bnode_modules\b/.test(a))
        .map((a) => /--from=(\S+)/.exec(a)?.[1]);
      const sources = [...installs(final).map((i) => i.args)];
      for (const from of fromStages) {
        expect(from, 'node_modules copied from a build stage, not the context').to.be.a('string');
        const stage = stages.find((s) => s.name === from);
        expect(stage, `stage ${from}`).to.be.an('object');
        sources.push(...installs(stage!).map((i) => i.args));
      }
      expect(sources, 'an npm install that provides the final node_modules').to.not.be.empty;
      for (const args of sources) expect(prodOnly(args), `production dependencies only: ${args}`).to.equal(true);
      expect(finalOps('RUN').join('\n'), 'no build in the final stage').to.not.match(/npm run build|\btsc\b/);
    });

    it('builds the bundle where it can record its code cache, and ships what keeps it current', () => {
      // scripts/bundle.mjs runs `mockcloud up` once, which needs better-sqlite3 compiled in the build stage.
      const build = stages.find((s) => s.instructions.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)))!;
      const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
      const rebuild = runs.findIndex((a) => /npm rebuild better-sqlite3|npm ci(?![^&]*--ignore-scripts)/.test(a));
      expect(rebuild, 'better-sqlite3 built in the build stage').to.be.at.least(0);
      expect(rebuild).to.be.below(runs.findIndex((a) => /npm run build/.test(a)));
      // cli/bundle.ts runs the bundle only while every input, package-lock.json included, is older than it.
      expect(finalOps('COPY').join('\n')).to.match(/\bpackage-lock\.json\b/);
      const inputs = JSON.parse(fs.readFileSync(path.join(root, 'dist/bundle/inputs.json'), 'utf8')) as string[];
      expect(inputs).to.include('../package-lock.json');
    });

    it('exposes the API port, binds 0.0.0.0, checks /health, and starts dist/cli/main.js server', () => {
      expect(finalOps('EXPOSE').join(' ')).to.match(/\b8000\b/);
      expect(finalOps('ENV').join(' ')).to.match(/MOCKCLOUD_HOST=0\.0\.0\.0/);
      expect(finalOps('HEALTHCHECK').join(' ')).to.contain('/health');
      const entrypoint = finalOps('ENTRYPOINT').at(-1)!;
      expect(JSON.parse(entrypoint)).to.deep.equal(['node', 'dist/cli/main.js']);
      expect(fs.existsSync(path.join(root, 'dist/cli/main.js')), 'dist/cli/main.js is what the build produces').to.equal(true);
      const cmd = JSON.parse(finalOps('CMD').at(-1)!) as string[];
      expect(cliCommands().has(cmd[0]!), `default command \`mockcloud ${cmd[0]}\` exists`).to.equal(true);
    });

    it('the API port the image exposes is the port compose publishes for the server', () => {
      const exposed = finalOps('EXPOSE').join(' ').split(/\s+/).map((p) => p.replace(/\/tcp$/, ''));
      expect(exposed).to.include(String(loadConfig(envOf(services.server!)).port));
    });
  });

  describe('.dockerignore', () => {
    it('keeps node_modules, dist, the embedded data dir and .git out of the build context', () => {
      const lines = fs
        .readFileSync(path.join(root, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim().replace(/^\/|\/$/g, ''));
      for (const entry of ['node_modules', 'dist', '.mockcloud', '.git']) expect(lines, `.dockerignore lists ${entry}`).to.include(entry);
    });
  });
});
