import type { Operation } from '../core/api.js';
import type { Ctx } from './context.js';
import { CliError, InterruptedError, OperationFailedError } from './errors.js';
import { followOperation } from './follow.js';
import { opViewOf, plainOpLine, type OpView } from './format.js';

// `--wait`: follow the operation a command started, showing progress on stderr (so stdout stays the
// command's result): live Ink bars on a terminal, one plain line per step otherwise, nothing with
// --output json or --quiet. Failure → exit 1 with the operation's error; Ctrl-C → exit 130, and
// the operation carries on server-side.

export interface Started {
  operationId: string | undefined;
  resourceId: string;
}

export async function waitForOperation(ctx: Ctx, started: Started): Promise<Operation> {
  const { operationId, resourceId } = started;
  if (!operationId) throw new CliError(`the server did not say which operation tracks ${resourceId}`, `check it with \`mockcloud op list --resource ${resourceId}\``);
  const t0 = Date.now();
  let view: OpView | undefined;
  const silent = ctx.output === 'json' || ctx.quiet || Boolean(ctx.query);
  const board = !silent && ctx.stderrTty ? await (await import('./ui/render.js')).renderBoard(process.stderr) : undefined;
  let lastPlain = '';
  const show = (op: Operation) => {
    view = opViewOf(op, t0, view, ctx.client.names.get(op.resource_id));
    if (board) return board.upsert(view);
    if (silent) return;
    // One line per step: a new phase or a final status, not every percent.
    const step = `${op.status}|${op.message}`;
    if (step === lastPlain) return;
    lastPlain = step;
    process.stderr.write(`${plainOpLine(view, Date.now())}\n`);
  };

  // A queued operation nobody picks up looks exactly like a slow one; say so after a few seconds.
  let stalledSaid = false;
  const stallCheck = setInterval(() => {
    if (!view) return;
    if (stalledSaid && view.status !== 'pending') {
      stalledSaid = false;
      board?.status(undefined);
    }
    if (stalledSaid || !isStalled(view, Date.now())) return;
    stalledSaid = true;
    if (board) board.status(noWorkerNotice(view, Date.now()));
    else if (!ctx.quiet) process.stderr.write(`${noWorkerNotice(view, Date.now())}\n`);
  }, 250);
  stallCheck.unref();

  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    const op = await followOperation(ctx.client, operationId, resourceId, { signal: interrupt.signal, onUpdate: show });
    show(op);
    if (op.status === 'failed') {
      const err = op.error ? `${op.error.message} (${op.error.code})` : op.message;
      throw new OperationFailedError(`operation ${op.id} (${op.kind} ${ctx.client.label(op.resource_id)}) failed: ${err}`);
    }
    return op;
  } catch (err) {
    if ((err as Error).name === 'AbortError') {
      throw new InterruptedError(
        `interrupted: operation ${operationId} continues on the server; follow it with \`mockcloud op wait ${operationId}\` or \`mockcloud tail ${resourceId}\``,
      );
    }
    throw err;
  } finally {
    clearInterval(stallCheck);
    process.removeListener('SIGINT', onSigint);
    await board?.stop();
  }
}

/** How long an operation may sit queued at 0 % before we say that no worker is taking it. */
export const NO_WORKER_AFTER_MS = 5000;

export function isStalled(v: OpView, now: number): boolean {
  return v.status === 'pending' && v.progress === 0 && now - v.startedAt >= NO_WORKER_AFTER_MS;
}

export function noWorkerNotice(v: OpView, now: number): string {
  return `no worker is taking operations: ${v.id} has been queued for ${Math.round((now - v.startedAt) / 1000)} s (start one with \`mockcloud worker\`; \`/ready\` reports the queue's consumers)`;
}
