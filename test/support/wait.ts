import type { Client } from './http.js';

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until an operation is done and returns it. */
export async function settle(http: Client, operationId: string, timeoutMs = 15_000): Promise<any> {
  return waitFor(`operation ${operationId}`, async () => {
    const r = await http.get(`/api/v1/operations/${operationId}`);
    return r.body?.done ? r.body : undefined;
  }, timeoutMs);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
