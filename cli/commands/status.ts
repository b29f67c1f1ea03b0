import { Command } from 'commander';
import type { Simulation } from '../../core/api.js';
import { contextOf } from '../context.js';
import { ApiError } from '../errors.js';
import { detailLines, emitJson } from '../output.js';
import { overridesOf } from './sim.js';
import { action, examples } from './shared.js';

// `mockcloud status`: what the CLI is talking to, in one look — endpoint, server version, mode and
// stores (read from /ready's checks: a queue or a bus check means the distributed stack), workers,
// readiness and the simulation in force. Exit 1 when the server is not ready, so scripts can wait on it.

interface StatusReport {
  endpoint: string;
  version: string | null;
  mode: 'embedded' | 'distributed';
  ready: boolean;
  checks: Record<string, string>;
  problem?: string;
  workers: string;
  simulation: Simulation | null;
}

export function registerStatusCommand(program: Command): void {
  examples(program.command('status').description('show the server the CLI talks to: version, mode, stores, workers, readiness and simulation (exit 1 when not ready)'), [
    'mockcloud status',
    'mockcloud status --output json',
    'until mockcloud status --quiet; do sleep 1; done',
  ]).action(
    action(async (_flags: unknown, self: Command) => {
      const ctx = contextOf(self);
      const health = await ctx.client.raw('GET', '/health');
      const ready = await ctx.client.raw('GET', '/ready');
      const readyBody = parse(ready.text) as { checks?: Record<string, string>; detail?: string; consumers?: number; workers?: number } | undefined;
      const checks = readyBody?.checks ?? {};
      const distributed = 'queue' in checks || 'bus' in checks;
      let simulation: Simulation | null = null;
      try {
        simulation = await ctx.client.getSimulation();
      } catch (err) {
        // With auth on, the simulation is admin-only: the rest of the report still stands.
        if (!(err instanceof ApiError)) throw err;
      }
      const counted = readyBody?.consumers ?? readyBody?.workers;
      const report: StatusReport = {
        endpoint: ctx.endpoint,
        version: (parse(health.text) as { version?: string } | undefined)?.version ?? null,
        mode: distributed ? 'distributed' : 'embedded',
        ready: ready.status === 200,
        checks,
        problem: ready.status === 200 ? undefined : readyBody?.detail ?? `HTTP ${ready.status}`,
        workers: typeof counted === 'number' ? String(counted) : distributed ? (checks.queue === 'ok' ? 'on the queue (see /ready)' : 'unknown: the queue is down') : 'in-process (the API runs the engine)',
        simulation,
      };
      if (!report.ready) process.exitCode = 1;
      if (ctx.output === 'json' || ctx.query) return emitJson(ctx, report);
      if (ctx.quiet) return;
      const sim = simulation
        ? `time scale ${simulation.time_scale}, failure rate ${simulation.failure_rate}, seed ${simulation.seed ?? 'random'}${overridesOf(simulation).map((o) => `; ${o.kind} ${o.what.join(', ')}`).join('')}`
        : 'not visible with this token (admin only)';
      const lines: [string, string][] = [
        ['endpoint', report.endpoint],
        ['server', report.version ? `mockcloud ${report.version}` : 'mockcloud (version not reported)'],
        ['mode', distributed ? 'distributed (PostgreSQL, RabbitMQ, Redis)' : 'embedded (SQLite, in-process queue and bus)'],
        ['ready', report.ready ? `yes (${Object.entries(checks).map(([k, v]) => `${k} ${v}`).join(', ')})` : `no: ${report.problem}`],
        ['workers', report.workers],
        ['simulation', sim],
      ];
      process.stdout.write(detailLines(lines).join('\n') + '\n');
    }),
  );
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
