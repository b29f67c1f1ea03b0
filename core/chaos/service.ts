import type { Db } from '../db.js';
import { nowIso } from '../db.js';
import { AnnouncedCache } from '../common/announced-cache.js';
import { AppError, ERROR_STATUS, type ErrorCode, type FieldError } from '../errors.js';
import type { Bus } from '../events/bus.js';
import { randomBytes } from 'node:crypto';
import { makeRng, type Rng } from '../simulation/rng.js';
import type { ForcedFailure } from '../simulation/plan.js';
import type { ChaosEffect, ChaosMatch, ChaosRule, ChaosRuleCreate } from '../api.js';

// Chaos rules (SPEC §11): faults, latency and operation failures injected by matching requests.
// Rules live in the database (every replica applies the same ones); each process caches them
// (core/common/announced-cache.ts: dropped when any replica announces a change, refreshed in the
// background, never waited for, once a second). With no rules the hot path is one cache check; a
// matching rule with `times` or `probability` costs one conditional UPDATE, which is also what
// makes "the first N" exact across replicas.

export const CHAOS_CHANNEL = 'mockcloud:chaos';

// The API shapes come from openapi.yaml (core/api.ts); only the stored row is ours.
export type { ChaosEffect, ChaosMatch, ChaosRule };
export type ChaosRuleInput = ChaosRuleCreate;

/** What the request looks like to the rules. */
export interface ChaosRequest {
  operationId: string;
  method: string;
  resourceType: string | null;
  projectId: string;
  environmentId: string | null;
}

/** What the matching rules decided for one request. */
export interface ChaosDecision {
  delayMs: number;
  fault?: AppError;
  forcedFailure?: ForcedFailure;
}

/** An operation of the contract, as far as chaos rules care. */
export interface ContractOperation {
  method: string;
  resourceType: string | null;
  /** Statuses the contract documents for it: a fault must be one of them. */
  statuses: number[];
  /** Starts an asynchronous operation (202): fail_operation can apply. */
  async: boolean;
}

interface RuleRow {
  id: string;
  match: string;
  effect: string;
  times: number | null;
  probability: number | null;
  seed: number | string | null;
  matched: number;
  hits: number;
  created_at: string;
}

const fromRow = (r: RuleRow): ChaosRule => ({
  id: r.id,
  match: JSON.parse(r.match) as ChaosMatch,
  effect: JSON.parse(r.effect) as ChaosEffect,
  times: r.times === null ? null : Number(r.times),
  probability: r.probability === null ? null : Number(r.probability),
  seed: r.seed === null ? null : Number(r.seed),
  matched: Number(r.matched),
  hits: Number(r.hits),
  created_at: r.created_at,
});

const CODE_FOR_STATUS: Partial<Record<number, ErrorCode>> = { 400: 'validation_failed', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'invalid_state', 412: 'precondition_failed', 422: 'invalid_value', 429: 'rate_limited', 500: 'internal_error', 503: 'unavailable' };

export class ChaosService {
  private readonly cache = new AnnouncedCache(() => this.list());

  constructor(private readonly deps: { db: Db; bus: Bus; contract: Map<string, ContractOperation>; seed: () => Promise<number | null> }) {}

  async start(): Promise<void> {
    await this.deps.bus.subscribe(CHAOS_CHANNEL, () => this.invalidate());
  }

  private invalidate(): void {
    this.cache.invalidate();
  }

  private async announce(): Promise<void> {
    this.invalidate();
    await this.deps.bus.publish(CHAOS_CHANNEL, '1').catch(() => undefined);
  }

  async list(): Promise<ChaosRule[]> {
    return ((await this.deps.db('chaos_rules').select('*').orderBy('created_at').orderBy('id')) as RuleRow[]).map(fromRow);
  }

  private rules(): Promise<ChaosRule[]> {
    return this.cache.get();
  }

  async create(input: ChaosRuleInput): Promise<ChaosRule> {
    this.check(input);
    const rule: ChaosRule = {
      id: `chaos-${randomBytes(8).toString('hex')}`,
      match: input.match ?? {},
      effect: input.effect,
      times: input.times ?? null,
      probability: input.probability ?? null,
      seed: input.seed ?? null,
      matched: 0,
      hits: 0,
      created_at: nowIso(),
    };
    await this.deps.db('chaos_rules').insert({ ...rule, match: JSON.stringify(rule.match), effect: JSON.stringify(rule.effect) });
    await this.announce();
    return rule;
  }

  async delete(id: string): Promise<void> {
    const n = await this.deps.db('chaos_rules').where({ id }).delete();
    if (!n) throw new AppError('not_found', `chaos rule ${id} does not exist`);
    await this.announce();
  }

  async clear(): Promise<number> {
    const n = await this.deps.db('chaos_rules').delete();
    await this.announce();
    return n;
  }

  /** What the schema cannot say: operationIds that exist, one effect, a status the operation documents. */
  private check(input: ChaosRuleInput): void {
    const errors: FieldError[] = [];
    const m = input.match ?? {};
    const e = input.effect;
    const op = m.operation_id === undefined ? undefined : this.deps.contract.get(m.operation_id);
    if (m.operation_id !== undefined && !op) errors.push({ path: '/body/match/operation_id', message: `unknown operationId "${m.operation_id}"; see /openapi.yaml`, code: 'unknown_operation' });
    if (op && m.method && m.method.toUpperCase() !== op.method) errors.push({ path: '/body/match/method', message: `${m.operation_id} is a ${op.method}, never ${m.method.toUpperCase()}`, code: 'never_matches' });
    const kinds = [e.status !== undefined, e.latency_ms !== undefined, e.fail_operation !== undefined].filter(Boolean).length;
    if (kinds !== 1) errors.push({ path: '/body/effect', message: 'an effect is exactly one of: status (+ code), latency_ms (+ jitter_ms), fail_operation', code: 'invalid_effect' });
    if (e.status !== undefined) {
      const code = (e.code ?? CODE_FOR_STATUS[e.status]) as ErrorCode | undefined;
      if (!code || !(code in ERROR_STATUS)) errors.push({ path: '/body/effect/code', message: `give a house problem code for status ${e.status} (e.g. ${Object.keys(ERROR_STATUS).slice(0, 4).join(', ')})`, code: 'invalid_code' });
      else if (ERROR_STATUS[code] !== e.status) errors.push({ path: '/body/effect/code', message: `code ${code} answers ${ERROR_STATUS[code]}, not ${e.status}`, code: 'status_mismatch' });
      if (op && !op.statuses.includes(e.status)) errors.push({ path: '/body/effect/status', message: `${m.operation_id} does not document status ${e.status} (it documents ${op.statuses.join(', ')})`, code: 'undocumented_status' });
    } else if (e.code !== undefined || e.retry_after_s !== undefined) {
      errors.push({ path: '/body/effect/code', message: 'code and retry_after_s go with status', code: 'invalid_effect' });
    }
    if (e.jitter_ms !== undefined && e.latency_ms === undefined) errors.push({ path: '/body/effect/jitter_ms', message: 'jitter_ms goes with latency_ms', code: 'invalid_effect' });
    if (e.fail_operation && op && !op.async) errors.push({ path: '/body/match/operation_id', message: `${m.operation_id} starts no operation, so fail_operation never applies`, code: 'never_matches' });
    if (input.times != null && input.probability != null) errors.push({ path: '/body', message: 'give times or probability, not both', code: 'invalid_effect' });
    if (errors.length) throw new AppError('invalid_value', errors.map((x) => x.message).join('; '), { errors });
  }

  private matches(rule: ChaosRule, req: ChaosRequest): boolean {
    const m = rule.match;
    if (m.operation_id !== undefined && m.operation_id !== req.operationId) return false;
    if (m.method !== undefined && m.method.toUpperCase() !== req.method) return false;
    if (m.resource_type !== undefined && m.resource_type !== req.resourceType) return false;
    if (m.project_id !== undefined && m.project_id !== req.projectId) return false;
    if (m.environment_id !== undefined && m.environment_id !== req.environmentId) return false;
    if (rule.effect.fail_operation && !this.deps.contract.get(req.operationId)?.async) return false;
    return true;
  }

  /**
   * Whether a matching rule fires this time (counted in the database, so replicas agree), and if it
   * does, the rule's random draws for this match: the n-th match of a rule draws the same in every
   * run with the same seed, keyed by what the rule says, not its random id, so a re-created rule
   * reproduces too.
   */
  private async fires(rule: ChaosRule): Promise<Rng | undefined> {
    const db = this.deps.db;
    const seeded = async (matched: number): Promise<Rng> => {
      const rng = makeRng(rule.seed ?? (await this.deps.seed()));
      const key = [JSON.stringify(rule.match), JSON.stringify(rule.effect), matched];
      return (...what) => rng('chaos', ...key, ...what);
    };
    if (rule.times !== null) {
      const won = (await db('chaos_rules').where({ id: rule.id }).andWhere('hits', '<', rule.times).update({ hits: db.raw('hits + 1'), matched: db.raw('matched + 1') }).returning('matched')) as { matched: number }[];
      if (won.length) return seeded(Number(won[0]!.matched));
      await db('chaos_rules').where({ id: rule.id }).update({ matched: db.raw('matched + 1') });
      return undefined;
    }
    const rows = (await db('chaos_rules').where({ id: rule.id }).update({ matched: db.raw('matched + 1') }).returning('matched')) as { matched: number }[];
    if (!rows.length) return undefined; // deleted meanwhile
    const draw = await seeded(Number(rows[0]!.matched));
    // The first draw decides the probability, as it always has: seeded runs from before keep their pattern.
    if (rule.probability !== null && draw() >= rule.probability) return undefined;
    await db('chaos_rules').where({ id: rule.id }).update({ hits: db.raw('hits + 1') });
    return draw;
  }

  async decide(req: ChaosRequest): Promise<ChaosDecision | undefined> {
    const rules = await this.rules();
    if (!rules.length) return undefined;
    let decision: ChaosDecision | undefined;
    for (const rule of rules) {
      if (!this.matches(rule, req)) continue;
      const draw = await this.fires(rule);
      if (!draw) continue;
      decision ??= { delayMs: 0 };
      const e = rule.effect;
      if (e.latency_ms !== undefined) {
        decision.delayMs += e.latency_ms + Math.floor(draw('jitter') * ((e.jitter_ms ?? 0) + 1));
      } else if (e.status !== undefined && !decision.fault) {
        const code = (e.code ?? CODE_FOR_STATUS[e.status]) as ErrorCode;
        const retryAfter = e.status === 429 || e.status === 503 ? (e.retry_after_s ?? 1) : undefined;
        decision.fault = new AppError(code, `injected by chaos rule ${rule.id}`, { retryAfter });
      } else if (e.fail_operation && !decision.forcedFailure) {
        const f = e.fail_operation;
        decision.forcedFailure = { code: f.code, at_progress: f.at_progress, message: f.message ?? `injected by chaos rule ${rule.id}` };
      }
    }
    return decision;
  }
}
