import type { Db } from '../core/db.js';
import { migrationsCurrent } from '../core/db.js';
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
}

export interface ServiceDeps {
  db: Db;
  bus: Bus;
  dispatcher: Dispatcher;
  simulation: StoredSimulation;
  /** Extra readiness probes by name (queue, bus), supplied by the composition root. */
  probes?: Record<string, Probe>;
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
  const simulation = new SimulationService({ db, bus, base: deps.simulation });
  await simulation.start();
  const identity = new IdentityService({ db, bus, mode: deps.auth?.mode ?? 'off', adminToken: deps.auth?.adminToken });
  await identity.start();
  return {
    environments: new EnvironmentService({ db, bus }),
    securityGroups: new SecurityGroupService({ db, bus }),
    vms: new VmService({ db, bus, dispatcher, simulation }),
    volumes: new VolumeService({ db, bus, dispatcher, simulation }),
    operations: new OperationService({ db }),
    simulation,
    events: new EventFeed({ db, bus }),
    idempotency: new IdempotencyStore(db),
    identity,
    audit: new AuditLog(db),
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
