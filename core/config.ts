import { z } from 'zod';

// Configuration is parsed once, in a composition root, from flags and environment variables
// (flags win). A bad value becomes one line that names the variable; the root exits with code 2.

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const urlOf = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')}`);

const number = (min: number, max: number) =>
  z.coerce.number({ invalid_type_error: 'must be a number' }).finite().min(min).max(max);

const schema = z.object({
  port: z.coerce.number({ invalid_type_error: 'must be a number' }).int('must be an integer').min(0).max(65535),
  host: z.string().min(1),
  databaseUrl: urlOf(['postgres:', 'postgresql:']).optional(),
  amqpUrl: urlOf(['amqp:', 'amqps:']).optional(),
  redisUrl: urlOf(['redis:', 'rediss:']).optional(),
  dataDir: z.string().min(1),
  memory: z.boolean(),
  timeScale: number(0, 1000),
  failureRate: number(0, 1),
  seed: z.coerce.number({ invalid_type_error: 'must be an integer' }).int('must be an integer').min(0).max(2 ** 31 - 1).optional(),
  // `on` is the spelling earlier versions documented; it means enforce.
  auth: z.enum(['off', 'soft', 'enforce']),
  adminToken: z.string().min(1).optional(),
  rateLimit: z
    .string()
    .transform((v, c) => {
      const parsed = parseRateLimit(v);
      if (parsed === 'invalid') {
        c.addIssue({ code: z.ZodIssueCode.custom, message: 'must be off or N/s, N/min or N/h (e.g. 1200/min)' });
        return z.NEVER;
      }
      return parsed;
    }),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  logFormat: z.enum(['auto', 'json', 'pretty']),
  leaseMs: z.coerce.number({ invalid_type_error: 'must be a number' }).int('must be an integer').min(100).max(600_000),
  metricsPort: z.coerce.number({ invalid_type_error: 'must be a number' }).int('must be an integer').min(0).max(65535),
  queue: z.string().regex(/^[\w.:-]{1,200}$/, 'must be a queue name of letters, digits, . : _ -'),
  corsOrigins: z.array(urlOf(['http:', 'https:']).refine((v) => new URL(v).origin === v, 'each origin must be scheme://host[:port], nothing more')),
  maxStreams: z.coerce.number({ invalid_type_error: 'must be a number' }).int('must be an integer').min(1).max(1_000_000),
  init: z.string().min(1).optional(),
});

export type Config = Readonly<z.infer<typeof schema>>;

/** Flags as commander hands them over (camelCase), all optional. */
export interface ConfigFlags {
  port?: string | number;
  host?: string;
  dataDir?: string;
  memory?: boolean;
  timeScale?: string | number;
  failureRate?: string | number;
  seed?: string | number;
  logLevel?: string;
  logFormat?: string;
  metricsPort?: string | number;
  init?: string;
}

// name in the config → [flag, environment variable], used for error messages and by the tests
// that check docker-compose.yml against this module.
export const CONFIG_SOURCES = {
  port: ['--port', 'MOCKCLOUD_PORT'],
  host: ['--host', 'MOCKCLOUD_HOST'],
  databaseUrl: [null, 'DATABASE_URL'],
  amqpUrl: [null, 'AMQP_URL'],
  redisUrl: [null, 'REDIS_URL'],
  dataDir: ['--data-dir', 'MOCKCLOUD_DATA_DIR'],
  memory: ['--memory', 'MOCKCLOUD_MEMORY'],
  timeScale: ['--time-scale', 'MOCKCLOUD_TIME_SCALE'],
  failureRate: ['--failure-rate', 'MOCKCLOUD_FAILURE_RATE'],
  seed: ['--seed', 'MOCKCLOUD_SEED'],
  auth: [null, 'MOCKCLOUD_AUTH'],
  adminToken: [null, 'MOCKCLOUD_ADMIN_TOKEN'],
  rateLimit: [null, 'MOCKCLOUD_RATE_LIMIT'],
  logLevel: ['--log-level', 'MOCKCLOUD_LOG_LEVEL'],
  logFormat: ['--log-format', 'MOCKCLOUD_LOG_FORMAT'],
  leaseMs: [null, 'MOCKCLOUD_LEASE_MS'],
  queue: [null, 'MOCKCLOUD_QUEUE'],
  metricsPort: ['--metrics-port', 'MOCKCLOUD_METRICS_PORT'],
  corsOrigins: [null, 'MOCKCLOUD_CORS_ORIGINS'],
  maxStreams: [null, 'MOCKCLOUD_MAX_STREAMS'],
  init: ['--init', 'MOCKCLOUD_INIT'],
} as const satisfies Record<keyof z.infer<typeof schema>, readonly [string | null, string]>;

const blankToUndefined = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);

export function loadConfig(env: NodeJS.ProcessEnv, flags: ConfigFlags = {}): Config {
  const pick = (flag: unknown, name: string) => (flag !== undefined ? flag : blankToUndefined(env[name]));
  const raw = {
    port: pick(flags.port, 'MOCKCLOUD_PORT') ?? 8000,
    host: pick(flags.host, 'MOCKCLOUD_HOST') ?? '127.0.0.1',
    databaseUrl: blankToUndefined(env.DATABASE_URL),
    amqpUrl: blankToUndefined(env.AMQP_URL),
    redisUrl: blankToUndefined(env.REDIS_URL),
    dataDir: pick(flags.dataDir, 'MOCKCLOUD_DATA_DIR') ?? './.mockcloud',
    memory: flags.memory ?? ['1', 'true', 'yes'].includes((env.MOCKCLOUD_MEMORY ?? '').toLowerCase()),
    timeScale: pick(flags.timeScale, 'MOCKCLOUD_TIME_SCALE') ?? 1,
    failureRate: pick(flags.failureRate, 'MOCKCLOUD_FAILURE_RATE') ?? 0.1,
    seed: pick(flags.seed, 'MOCKCLOUD_SEED'),
    auth: authMode(pick(undefined, 'MOCKCLOUD_AUTH') as string | undefined),
    adminToken: blankToUndefined(env.MOCKCLOUD_ADMIN_TOKEN),
    // SPEC §10: a budget by default only where tokens are enforced.
    rateLimit: (pick(undefined, 'MOCKCLOUD_RATE_LIMIT') as string | undefined) ?? (authMode(pick(undefined, 'MOCKCLOUD_AUTH') as string | undefined) === 'enforce' ? '1200/min' : 'off'),
    logLevel: pick(flags.logLevel, 'MOCKCLOUD_LOG_LEVEL') ?? 'info',
    // auto: human lines on a terminal, JSON lines otherwise (server/logger.ts).
    logFormat: (pick(flags.logFormat, 'MOCKCLOUD_LOG_FORMAT') as string | undefined)?.toLowerCase() ?? 'auto',
    // How long a worker's claim on an operation lasts without renewal: the time a crashed worker's
    // operations wait before another worker takes them over.
    leaseMs: pick(undefined, 'MOCKCLOUD_LEASE_MS') ?? 15_000,
    queue: pick(undefined, 'MOCKCLOUD_QUEUE') ?? 'mockcloud.operations',
    // The worker's own /metrics and /health (the API serves /metrics on its port); 0 turns it off.
    metricsPort: pick(flags.metricsPort, 'MOCKCLOUD_METRICS_PORT') ?? 0,
    // Comma-separated origins allowed to call the API from a browser; unset sends no CORS headers.
    corsOrigins: (blankToUndefined(env.MOCKCLOUD_CORS_ORIGINS) ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    // Open SSE streams one API process accepts; beyond it GET /events answers 503 with Retry-After.
    maxStreams: pick(undefined, 'MOCKCLOUD_MAX_STREAMS') ?? 1000,
    // A state document or seed YAML applied at start-up (SPEC §11).
    init: pick(flags.init, 'MOCKCLOUD_INIT'),
  };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path[0] as keyof typeof CONFIG_SOURCES;
    const [flag, variable] = CONFIG_SOURCES[key];
    const source = flag && flags[key as keyof ConfigFlags] !== undefined ? flag : variable;
    const value = (raw as Record<string, unknown>)[key];
    throw new ConfigError(`invalid ${source}=${JSON.stringify(value)}: ${issue.message}`);
  }
  return Object.freeze(parsed.data);
}

function authMode(v: string | undefined): string {
  const mode = v?.toLowerCase() ?? 'off';
  return mode === 'on' ? 'enforce' : mode;
}

export interface RateLimitBudget {
  points: number;
  durationS: number;
}

const WINDOWS: Record<string, number> = { s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600 };

/** `1200/min` → 1200 requests per 60 s; `off` → null. */
export function parseRateLimit(v: string): RateLimitBudget | null | 'invalid' {
  const t = v.trim().toLowerCase();
  if (t === 'off' || t === '0' || t === 'none') return null;
  const m = /^(\d{1,9})\s*\/\s*([a-z]+)$/.exec(t);
  if (!m || !WINDOWS[m[2]!] || Number(m[1]) < 1) return 'invalid';
  return { points: Number(m[1]), durationS: WINDOWS[m[2]!]! };
}
