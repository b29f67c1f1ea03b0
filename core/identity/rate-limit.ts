import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitBudget } from '../config.js';

// Per-token (per-IP without one) request budgets, SPEC §10. rate-limiter-flexible keeps the counters:
// in memory for one process, in Redis when replicas must share them; if Redis is away the memory
// limiter stands in (its insurance mode) so an outage costs precision, not availability.

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetS: number;
}

export interface RateLimiter {
  readonly budget: RateLimitBudget;
  consume(key: string): Promise<RateDecision>;
}

export function createRateLimiter(budget: RateLimitBudget, opts: { redis?: Redis; keyPrefix?: string } = {}): RateLimiter {
  const base = { points: budget.points, duration: budget.durationS, keyPrefix: opts.keyPrefix ?? 'mockcloud:rl' };
  const limiter: RateLimiterAbstract = opts.redis
    ? new RateLimiterRedis({ ...base, storeClient: opts.redis, insuranceLimiter: new RateLimiterMemory(base) })
    : new RateLimiterMemory(base);
  const decision = (res: RateLimiterRes, allowed: boolean): RateDecision => ({
    allowed,
    limit: budget.points,
    remaining: Math.max(0, res.remainingPoints),
    resetS: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  });
  return {
    budget,
    async consume(key) {
      try {
        return decision(await limiter.consume(key), true);
      } catch (rej) {
        if (rej instanceof RateLimiterRes) return decision(rej, false);
        throw rej;
      }
    },
  };
}
