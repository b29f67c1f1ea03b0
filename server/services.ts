import type { Db } from '../core/db.js';
import { migrationsCurrent } from '../core/db.js';
import { EnvironmentService } from '../core/environments/service.js';
import type { Bus } from '../core/events/bus.js';
import { SecurityGroupService } from '../core/security-groups/service.js';

export interface Readiness {
  ok: boolean;
  checks: Record<string, 'ok' | 'down'>;
}

export type Probe = () => Promise<boolean>;

/** Everything the HTTP layer calls; built by a composition root and handed to createApp. */
export interface Services {
  environments: EnvironmentService;
  securityGroups: SecurityGroupService;
  health: { readiness(): Promise<Readiness> };
}

export interface ServiceDeps {
  db: Db;
  bus: Bus;
  /** Extra readiness probes by name (queue, bus), supplied by the composition root. */
  probes?: Record<string, Probe>;
}

export function createServices(deps: ServiceDeps): Services {
  const { db, bus } = deps;
  const probes: Record<string, Probe> = {
    database: async () => {
      await db.raw('select 1');
      return true;
    },
    migrations: () => migrationsCurrent(db),
    ...deps.probes,
  };
  return {
    environments: new EnvironmentService({ db, bus }),
    securityGroups: new SecurityGroupService({ db, bus }),
    health: {
      async readiness() {
        const entries = await Promise.all(
          Object.entries(probes).map(async ([name, probe]) => {
            const ok = await Promise.race([
              probe().catch(() => false),
              new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
            ]);
            return [name, ok ? 'ok' : 'down'] as const;
          }),
        );
        return { ok: entries.every(([, v]) => v === 'ok'), checks: Object.fromEntries(entries) };
      },
    },
  };
}
