// One error family for the whole product. Every code is stable (SPEC §4) and maps to exactly one
// HTTP status; the server turns an AppError into RFC 9457 problem+json in one place.

export const ERROR_STATUS = {
  validation_failed: 400,
  invalid_page_token: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  already_exists: 409,
  dependency_violation: 409,
  invalid_state: 409,
  volume_in_use: 409,
  address_space_exhausted: 409,
  idempotency_key_in_flight: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  immutable_field: 422,
  environment_mismatch: 422,
  idempotency_key_reused: 422,
  invalid_value: 422,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  path: string;
  message: string;
  code?: string;
}

export interface Dependent {
  id: string;
  type: string;
}

export interface AppErrorOptions {
  errors?: FieldError[];
  dependents?: Dependent[];
  retryAfter?: number;
  /** For `forbidden`: the scopes the caller lacks (SPEC §10). */
  missingScopes?: string[];
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors?: FieldError[];
  readonly dependents?: Dependent[];
  readonly retryAfter?: number;
  readonly missingScopes?: string[];

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.errors = options.errors;
    this.dependents = options.dependents;
    this.retryAfter = options.retryAfter;
    this.missingScopes = options.missingScopes;
  }
}

export const notFound = (type: string, id: string) =>
  new AppError('not_found', `${type} ${id} does not exist`);

export const validationFailed = (errors: FieldError[]) =>
  new AppError('validation_failed', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });

export const invalidState = (what: string, status: string, action: string) =>
  new AppError('invalid_state', `${what} is ${status}; cannot ${action}`);
