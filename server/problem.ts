import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from 'pino';
import { fromDbError } from '../core/db-errors.js';
import { AppError, type ErrorCode, type FieldError } from '../core/errors.js';
import { isDependencyUnavailable, UNAVAILABLE_RETRY_AFTER_S } from '../core/unavailable.js';

// The one place where errors become RFC 9457 problem documents. Whatever was thrown — an AppError,
// a validator HttpError, a body-parser error or a bug — the client gets application/problem+json
// with a stable `code`, and never a stack trace.

const TITLES: Record<ErrorCode, string> = {
  validation_failed: 'The request is not valid',
  invalid_page_token: 'Invalid page token',
  unauthorized: 'Authentication required',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  already_exists: 'Already exists',
  dependency_violation: 'Resource has dependents',
  invalid_state: 'Invalid state for this action',
  volume_in_use: 'Volume is in use',
  address_space_exhausted: 'Address space exhausted',
  idempotency_key_in_flight: 'Idempotency key in flight',
  precondition_failed: 'Precondition failed',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  immutable_field: 'Immutable field',
  environment_mismatch: 'Environment mismatch',
  idempotency_key_reused: 'Idempotency key reused',
  invalid_value: 'Invalid value',
  rate_limited: 'Too many requests',
  internal_error: 'Internal error',
  unavailable: 'Service unavailable',
};

export interface ProblemDoc {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
  dependents?: { id: string; type: string }[];
  missing_scopes?: string[];
}

export function problemOf(err: AppError, req: Request): ProblemDoc {
  const doc: ProblemDoc = {
    type: `urn:mockcloud:problem:${err.code}`,
    title: TITLES[err.code],
    status: err.status,
    code: err.code,
    detail: err.message,
    instance: req.originalUrl,
    request_id: String(req.headers['x-request-id'] ?? ''),
  };
  if (err.errors?.length) doc.errors = err.errors;
  if (err.dependents) doc.dependents = err.dependents;
  if (err.missingScopes) doc.missing_scopes = err.missingScopes;
  return doc;
}

export function sendProblem(res: Response, req: Request, err: AppError): void {
  if (err.retryAfter !== undefined) res.setHeader('Retry-After', String(err.retryAfter));
  res.status(err.status).type('application/problem+json').send(JSON.stringify(problemOf(err, req)));
}

interface ValidatorError {
  status: number;
  message?: string;
  errors?: { path?: string; message?: string; errorCode?: string }[];
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** Turns anything thrown into an AppError; unknown errors become a bare 500. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fromDb = fromDbError(err);
  if (fromDb) return fromDb;
  const bp = err as BodyParserError;
  if (bp?.type === 'entity.parse.failed') return new AppError('validation_failed', 'the request body is not valid JSON');
  if (bp?.type === 'entity.too.large') return new AppError('payload_too_large', 'the request body is larger than 1 MiB');
  if (bp?.type === 'encoding.unsupported' || bp?.type === 'charset.unsupported') {
    return new AppError('unsupported_media_type', 'unsupported body encoding or charset');
  }
  const v = err as ValidatorError;
  // express-openapi-validator's HttpErrors carry status and errors[]; a 500 from it is a response that
  // broke the contract, which is our bug and stays a 500.
  if (typeof v?.status === 'number' && Array.isArray(v.errors) && STATUS_CODES[v.status]) {
    const code = STATUS_CODES[v.status]!;
    const errors = v.errors.map((e) => ({ path: e.path ?? '', message: e.message ?? 'invalid', code: e.errorCode }));
    const detail =
      code === 'not_found'
        ? 'no such route; see /openapi.yaml for the API'
        : code === 'validation_failed'
          ? errors.map((e) => `${e.path.replace(/^\/(body|query|params|headers)\/?/, '$1 ')}: ${e.message}`).join('; ')
          : (v.message ?? code);
    return new AppError(code, detail, { errors: code === 'validation_failed' ? errors : undefined });
  }
  if (typeof bp?.status === 'number' && bp.expose && STATUS_CODES[bp.status]) {
    return new AppError(STATUS_CODES[bp.status]!, (err as Error).message);
  }
  if (isDependencyUnavailable(err)) {
    return new AppError('unavailable', 'the database is unreachable right now; try again shortly', { retryAfter: UNAVAILABLE_RETRY_AFTER_S, cause: err });
  }
  return new AppError('internal_error', 'an unexpected error occurred; it has been logged with this request_id');
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const appErr = toAppError(err);
    if (appErr.status >= 500) logger.error({ err, request_id: req.headers['x-request-id'] }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, req, appErr);
  };
}
