import { AppError } from './errors.js';

// Every database error a client can provoke, recognised for both stores and turned into its problem
// code in one place. Services still catch the ones they can explain better (a duplicate name says
// which name); whatever they let through lands here via server/problem.ts instead of a 500.

const codeOf = (err: unknown) => (err as { code?: unknown } | undefined)?.code;

export function isUniqueViolation(err: unknown): boolean {
  const c = codeOf(err);
  return c === '23505' || c === 'SQLITE_CONSTRAINT_UNIQUE' || c === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function isForeignKeyViolation(err: unknown): boolean {
  const c = codeOf(err);
  return c === '23503' || c === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** PostgreSQL gave up on a transaction because of a concurrent one; running it again is safe. */
export function isRetryableConflict(err: unknown): boolean {
  const c = codeOf(err);
  return c === '40001' || c === '40P01' || c === 'SQLITE_BUSY';
}

const CHECK = new Set(['23514', '23502', 'SQLITE_CONSTRAINT_CHECK', 'SQLITE_CONSTRAINT_NOTNULL']);
// Text PostgreSQL cannot store or parse (a NUL byte, bad encoding, an over-long value, a
// malformed number): the request carried it, so it is the client's 400.
const BAD_TEXT = new Set(['22021', '22P05', '22P02', '22001', '22003', '22007', '22008', '2200N', '22023', '54000']);

export function fromDbError(err: unknown): AppError | undefined {
  const c = codeOf(err);
  if (typeof c !== 'string') return undefined;
  if (isUniqueViolation(err)) return new AppError('already_exists', 'a resource with these identifying values already exists', { cause: err });
  if (isForeignKeyViolation(err)) {
    return new AppError('invalid_value', 'the request refers to a resource that does not exist (it may have been deleted meanwhile)', { cause: err });
  }
  if (CHECK.has(c)) return new AppError('invalid_value', 'a value is outside what this field allows', { cause: err });
  if (BAD_TEXT.has(c)) return new AppError('validation_failed', 'a value in the request cannot be stored (e.g. a NUL byte or text out of range)', { cause: err });
  if (isRetryableConflict(err)) return new AppError('unavailable', 'too many concurrent changes to the same resources; retry shortly', { retryAfter: 1, cause: err });
  // statement_timeout (57014): the query ran longer than any request may; the server is fine.
  if (c === '57014') return new AppError('unavailable', 'the request took too long to answer and was cancelled; narrow it or retry', { retryAfter: 1, cause: err });
  return undefined;
}
