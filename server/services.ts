import { AdminService } from '../core/admin/service.js';
import { ChaosService, type ContractOperation } from '../core/chaos/service.js';
import { SharedClock } from '../core/clock/clock.js';
import { ClockService } from '../core/clock/service.js';
import type { Db } from '../core/db.js';
import { migrationsCurrent } from '../core/db.js';
import { PageTokens } from '../core/common/pagination.js';
import { EnvironmentService } from '../core/environments/service.js';
import type { Bus } from '../core/events/bus.js';
import { EventFeed } from '../core/events/feed.js';
import { IdempotencyStore } from '../core/idempotency/store.js';
import type { AuthMode } from '../core/identity/access.js';
import { AuditLog } from '../core/identity/audit.js';
import { IdentityService } from '../core/identity/service.js';
import { OperationService } from '../core/operations/service.js';
import type { Dispatcher } from '../core/operations/submit.js';
import { SecurityGroupService } from '../core/security-groups/service.js';
import { SimulationService } from '../core/simulation/service.js';
import type { StoredSimulation } from '../core/simulation/settings.js';
import { VmService } from '../core/vms/service.js';
import { VolumeService } from '../core/volumes/service.js';
import { readContract } from './spec.js';

export interface Readiness {
  ok: boolean;
  checks: Record<string, 'ok' | 'down'>;
  /** What is wrong, in words, one entry per failing check. */
  problems: string[];
}

/** true = fine; false or a sentence saying what is wrong = down. */
export type Probe = () => Promise<boolean | string>;

/** Everything the HTTP layer calls; built by a composition root and handed to createApp. */
export interface Services {
  environments: EnvironmentService;
  securityGroups: SecurityGroupService;
  vms: VmService;
  volumes: VolumeService;
  operations: OperationService;
  simulation: SimulationService;
  events: EventFeed;
  idempotency: IdempotencyStore;
  identity: IdentityService;
  audit: AuditLog;
  health: { readiness(): Promise<Readiness> };
  clock: ClockService;
  admin: AdminService;
  chaos: ChaosService;
}

const RESOURCE_OF_PATH: Record<string, string> = { environments: 'environment', 'security-groups': 'security_group', vms: 'vm', volumes: 'volume', operations: 'operation' };

/**
 * The contract's operations as chaos rules see them: method, resource type, documented statuses.
 * From the build's dist/openapi.json (readContract): parsing openapi.yaml here was 28 % of the CPU
 * spent before the first API answer.
 */
export function contractOperations(spec = readContract() as { paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown> }>> }): Map<string, ContractOperation> {
  const out = new Map<string, ContractOperation>();
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== 'object' || !op.operationId) continue;
      const statuses = Object.keys(op.responses ?? {}).map(Number).filter(Number.isInteger);
      out.set(op.operationId, { method: method.toUpperCase(), resourceType: RESOURCE_OF_PATH[path.split('/')[3] ?? ''] ?? null, statuses, async: statuses.includes(202) });
    }
  }
  return out;
}

export interface ServiceDeps {
  db: Db;
  bus: Bus;
  dispatcher: Dispatcher;
  simulation: StoredSimulation;
  /** Extra readiness probes by name (queue, bus), supplied by the composition root. */
  probes?: Record<string, Probe>;
  /** Open SSE streams this process accepts (MOCKCLOUD_MAX_STREAMS). */
  maxStreams?: number;
  /** SPEC §10; off when absent. */
  auth?: { mode: AuthMode; adminToken?: string };
}

export async function createServices(deps: ServiceDeps): Promise<Services> {
  const { db, bus, dispatcher } = deps;
  const probes: Record<string, Probe> = {
    database: async () => {
      await db.raw('select 1');
      return true;
    },
    migrations: () => migrationsCurrent(db),
    ...deps.probes,
  };
  
  const pageTokens = await PageTokens.load(db);
  const clock = await SharedClock.open({ db, bus, timeScale: deps.simulation.time_scale });
  const clockService = new ClockService({ db, bus, clock });
  const simulation = new SimulationService({ db, bus, base: deps.simulation, clock: clockService });
  await simulation.start();
  // The clock's pace follows the effective time_scale (start-up configuration or PATCH /simulation).
  await clockService.setTimeScale((await simulation.get()).time_scale);
  const chaos = new ChaosService({ db, bus, contract: contractOperations(), seed: async () => (await simulation.get()).seed });
  await chaos.start();
  const identity = new IdentityService({ db, bus, mode: deps.auth?.mode ?? 'off', adminToken: deps.auth?.adminToken, pageTokens });
  await identity.start();
  return {
    environments: new EnvironmentService({ db, bus, pageTokens }),
    securityGroups: new SecurityGroupService({ db, bus, pageTokens }),
    vms: new VmService({ db, bus, dispatcher, simulation, pageTokens }),
    volumes: new VolumeService({ db, bus, dispatcher, simulation, pageTokens }),
    operations: new OperationService({ db, pageTokens }),
    simulation,
    events: new EventFeed({ db, bus, maxStreams: deps.maxStreams }),
    idempotency: new IdempotencyStore(db),
    clock: clockService,
    admin: new AdminService({ db, bus, dispatcher, simulation, clock: clockService }),
    chaos,
    identity,
    audit: new AuditLog(db, pageTokens),
    health: {
      async readiness() {
        const results = await Promise.all(
          Object.entries(probes).map(async ([name, probe]) => {
            const result = await Promise.race([
              probe().catch(() => false),
              new Promise<string>((r) => setTimeout(() => r(`${name} did not answer within 2 s`), 2000).unref()),
            ]);
            return { name, ok: result === true, problem: typeof result === 'string' ? result : `${name} down` };
          }),
        );
        return {
          ok: results.every((r) => r.ok),
          checks: Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : 'down'])),
          problems: results.filter((r) => !r.ok).map((r) => r.problem),
        };
      },
    },
  };
}
