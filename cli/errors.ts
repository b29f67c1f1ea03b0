import type { Problem } from '../core/api.js';

// The CLI's two kinds of error (after Shopify cli-kit): a CliError is the user's to fix — it says what
// went wrong and, when we know it, the next step; anything else is a bug in mockcloud. Commands only
// throw; the one top-level handler in main.ts calls reportError() to print and pick the exit code.

export class CliError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The server answered with an RFC 9457 problem. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly problem: Pick<Problem, 'title' | 'code'> & Partial<Problem>,
  ) {
    super(
      `${problem.title}${problem.detail ? `: ${problem.detail}` : ''} (${problem.code})`,
      status >= 500 && problem.request_id ? `request id ${problem.request_id}: the server's log has the details` : undefined,
    );
    this.name = 'ApiError';
  }
}

/** No HTTP answer at all: refused, unknown host, reset. */
export class UnreachableError extends CliError {
  constructor(
    readonly endpoint: string,
    cause: unknown,
  ) {
    const reason = describeNetworkError(cause);
    super(`cannot reach ${endpoint}: ${reason}`, `is \`mockcloud up\` running at ${endpoint}? (set --endpoint or MOCKCLOUD_ENDPOINT)`);
    this.name = 'UnreachableError';
    this.cause = cause;
  }
}

/** A followed operation ended in `failed`: not a bug, but exit 1 all the same. */
export class OperationFailedError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, hint, 1);
    this.name = 'OperationFailedError';
  }
}

/** The user pressed Ctrl-C: the server keeps going, and we say how to follow it. */
export class InterruptedError extends CliError {
  constructor(hint?: string) {
    super('interrupted', hint, 130);
    this.name = 'InterruptedError';
  }
}

function describeNetworkError(cause: unknown): string {
  const err = cause as { code?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  const code = err?.code ?? err?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connection timed out';
  return err?.message ?? err?.cause?.message ?? String(cause);
}

/** True for errors that mean "no HTTP answer" (as opposed to an HTTP error status). */
export function isNetworkError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code ?? '';
  return /^(ECONN|ENOTFOUND|EAI_|EPIPE|EHOSTUNREACH|ENETUNREACH|UND_ERR_(SOCKET|CONNECT|CLOSED))/.test(code);
}

/** Wraps an unexpected error thrown inside a CLI command so the top-level handler knows it is ours. */
export class BugError extends Error {
  constructor(readonly original: unknown) {
    super((original as Error)?.message ?? String(original));
    this.name = 'BugError';
    this.stack = (original as Error)?.stack ?? this.stack;
  }
}

/** For main.ts: the exit code when `err` came from a CLI command, undefined when it is not ours. */
export function handleCliError(err: unknown, debug: boolean): number | undefined {
  if (err instanceof CliError || err instanceof BugError) return reportError(err, { debug });
  return undefined;
}

/**
 * Prints an error raised by a CLI command as one line on stderr (plus a hint line) and returns the
 * exit code. Unknown errors are bugs: one line asking for a report, the stack only with --debug.
 */
export function reportError(err: unknown, opts: { debug: boolean; stderr?: NodeJS.WritableStream }): number {
  const out = opts.stderr ?? process.stderr;
  if (err instanceof CliError) {
    if (!(err instanceof InterruptedError)) out.write(`error: ${err.message}\n`);
    if (err.hint) out.write(`${err.hint}\n`);
    if (opts.debug && err.cause) out.write(`${(err.cause as Error).stack ?? String(err.cause)}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  out.write(`error: unexpected error: ${e?.message ?? String(err)}\n`);
  out.write(opts.debug ? `${e?.stack ?? ''}\n` : 'this is a bug in mockcloud; run again with --debug for the stack trace and report it\n');
  return 1;
}
