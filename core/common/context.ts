import type { ForcedFailure } from '../simulation/plan.js';

/** Who is asking: every service call is scoped to one project (SPEC §10). */
export interface Ctx {
  projectId: string;
  requestId?: string;
  /** Set by a matching chaos `fail_operation` rule: operations this request starts fail so. */
  forcedFailure?: ForcedFailure;
}
