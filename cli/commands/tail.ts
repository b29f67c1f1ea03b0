import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import type { Operation } from '../../core/api.js';
import { RESOURCES, type ResourceKind } from '../api-client.js';
import { contextOf, type Ctx } from '../context.js';
import { ApiError, CliError, InterruptedError } from '../errors.js';
import { isOperationEvent, openEventStream, type CloudEvent, type EventFilter } from '../events.js';
import { opViewOf, plainOpLine, type OpView } from '../format.js';
import { resolveId } from '../resolve.js';
import type { BoardHandle } from '../ui/render.js';
import { isStalled, noWorkerNotice } from '../wait.js';
import { action, examples } from './shared.js';

// `mockcloud tail`: a live view of the event stream. Operations in flight get a bar each; finished
// ones and other events scroll above. When the stream drops (a server restart) it reconnects with
// Last-Event-ID, so nothing that happened in between is lost.

interface TailFlags {
  env?: string;
  kind?: string;
}

async function targets(ctx: Ctx, refs: string[]): Promise<{ resourceIds: string[]; operationIds: Set<string> }> {
  const resourceIds: string[] = [];
  const operationIds = new Set<string>();
  for (const ref of refs) {
    if (ref.startsWith('op-')) {
      const op = await ctx.client.getOperation(ref);
      operationIds.add(op.id);
      resourceIds.push(op.resource_id);
      continue;
    }
    const kind = (Object.keys(RESOURCES) as ResourceKind[]).find((k) => ref.startsWith(RESOURCES[k].prefix));
    if (kind) {
      resourceIds.push(ref);
      continue;
    }
    // A bare name: a VM first, then a volume.
    try {
      resourceIds.push(await resolveId(ctx.client, 'vm', ref));
    } catch (err) {
      if (!(err instanceof CliError) || err instanceof ApiError) throw err;
      resourceIds.push(await resolveId(ctx.client, 'volume', ref));
    }
  }
  return { resourceIds, operationIds };
}

function eventLine(e: CloudEvent): string {
  const d = e.data as { name?: string; status?: string };
  const what = e.type.endsWith('.status') ? `${e.resource_id} ${d.name ?? ''} is ${d.status ?? '?'}` : `${e.resource_id} ${d.name ?? ''} ${e.type.split('.').pop()}`;
  return `${e.created_at?.slice(11, 19) ?? ''} ${e.type.padEnd(22)} ${what.replace(/\s+/g, ' ')}`.trim();
}

export function registerTailCommand(program: Command): void {
  examples(
    program
      .command('tail')
      .description('watch operations and resource changes live (one bar per operation in flight; Ctrl-C to stop)')
      .argument('[id...]', 'only these resources or operations (IDs, or VM/volume names)')
      .option('--env <env>', 'only this environment (ID or name)')
      .option('--kind <kind>', 'only this operation kind, e.g. vm.create')
      .addHelpText('after', '\nWith --output json, every event is printed as one JSON object per line (NDJSON).\n'),
    ['mockcloud tail', 'mockcloud tail vm-… vol-…', 'mockcloud tail --env prod --kind vm.create', 'mockcloud tail --output json | jq .type'],
  ).action(
    action(async (refs: string[], flags: TailFlags, self: Command) => {
      const ctx = contextOf(self);
      const { resourceIds, operationIds } = await targets(ctx, refs);
      const environmentId = flags.env ? await resolveId(ctx.client, 'env', flags.env) : undefined;
      const filter: EventFilter = { resourceIds, environmentId, kind: flags.kind };
      const json = ctx.output === 'json';
      const board: BoardHandle | undefined = !json && ctx.stdoutTty ? await (await import('../ui/render.js')).renderBoard(process.stdout) : undefined;
      const views = new Map<string, OpView>();
      const steps = new Map<string, string>();
      const wanted = (opId: string | null | undefined) => operationIds.size === 0 || (opId ? operationIds.has(opId) : false);

      // Names for the resources operations run on: asked once each, shown from the next line on.
      const asked = new Set<string>();
      const learnName = (id: string) => {
        if (ctx.client.names.has(id) || asked.has(id)) return;
        asked.add(id);
        const kind = (Object.keys(RESOURCES) as ResourceKind[]).find((k) => id.startsWith(RESOURCES[k].prefix));
        if (kind) void ctx.client.get(kind, id).catch(() => undefined);
      };
      const showOp = (op: Operation) => {
        learnName(op.resource_id);
        const view = opViewOf(op, Date.now(), views.get(op.id), ctx.client.names.get(op.resource_id));
        views.set(op.id, view);
        if (board) return board.upsert(view);
        const step = `${op.status}|${op.message}`;
        if (steps.get(op.id) === step) return;
        steps.set(op.id, step);
        process.stdout.write(`${plainOpLine(view, Date.now())}\n`);
      };
      // Notices go to stderr, so stdout stays the events alone (NDJSON with --output json).
      const notice = (text: string) => (board ? board.status(text) : ctx.quiet ? undefined : process.stderr.write(`${text}\n`));

      // Operations already in flight when we start.
      if (!json) {
        for (const status of ['pending', 'running']) {
          const ops = await ctx.client.listOperations({ status, environment_id: environmentId, kind: flags.kind }, 200);
          for (const op of ops) if (wanted(op.id) && (resourceIds.length === 0 || resourceIds.includes(op.resource_id))) showOp(op);
        }
      }

      // Operations queued with nobody to take them: said once, after a few seconds.
      let stalledSaid = false;
      const stallCheck = setInterval(() => {
        const stalled = [...views.values()].find((v) => isStalled(v, Date.now()));
        if (!stalled || stalledSaid) return;
        stalledSaid = true;
        notice(noWorkerNotice(stalled, Date.now()));
      }, 250);
      stallCheck.unref();

      const interrupt = new AbortController();
      const onSigint = () => interrupt.abort();
      process.once('SIGINT', onSigint);
      let lastEventId: string | undefined;
      let connected = false;
      try {
        while (!interrupt.signal.aborted) {
          let retryMs = 2000;
          try {
            const stream = await openEventStream(ctx.client, filter, { lastEventId, signal: interrupt.signal });
            if (connected) notice('reconnected');
            else if (!board) notice(`watching ${ctx.endpoint} (Ctrl-C to stop)`);
            if (board) board.status(undefined);
            connected = true;
            for await (const event of stream.events) {
              lastEventId = event.sseId ?? lastEventId;
              if (event.type === 'reset') {
                // The server could not resume gap-free (our id is older than retention, or ahead of
                // its log): say so once and carry on live from where it put us.
                const r = event as unknown as { reason?: string; detail?: string };
                if (json) process.stdout.write(`${JSON.stringify({ type: 'reset', reason: r.reason, detail: r.detail, resume_after: event.sseId })}\n`);
                notice(`the event stream could not resume without a gap (${r.reason ?? 'reset'}): events may be missing; list resources to catch up. Watching live.`);
                continue;
              }
              const named = (event.data ?? {}) as { name?: unknown };
              if (typeof named.name === 'string') ctx.client.names.set(event.resource_id, named.name);
              if (!wanted(event.operation_id)) continue;
              if (json) {
                const { sseId: _sseId, ...plain } = event;
                process.stdout.write(`${JSON.stringify(plain)}\n`);
              } else if (isOperationEvent(event)) showOp(event.data);
              else if (board) board.log({ key: `e${event.seq}`, text: eventLine(event), tone: event.type.endsWith('deleted') ? 'plain' : 'ok' });
              else process.stdout.write(`${eventLine(event)}\n`);
            }
            retryMs = stream.retryMs() ?? retryMs;
          } catch (err) {
            if (interrupt.signal.aborted) break;
            // Before the first connection, a refusal is the user's answer; afterwards we keep trying.
            if (!connected || err instanceof ApiError) throw err;
          }
          if (interrupt.signal.aborted) break;
          notice(`connection to ${ctx.endpoint} lost; reconnecting${lastEventId ? ` (resuming after event ${lastEventId})` : ''}…`);
          await sleep(retryMs, undefined, { signal: interrupt.signal }).catch(() => undefined);
        }
      } finally {
        clearInterval(stallCheck);
        process.removeListener('SIGINT', onSigint);
        await board?.stop();
      }
      throw new InterruptedError();
    }),
  );
}
