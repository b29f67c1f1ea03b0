import type { ForcedFailure } from '../simulation/plan.js';
import type { Principal } from '../identity/access.js';

/** Who is asking: every service call is scoped to one project (SPEC §10). */
export interface Ctx {
  projectId: string;
  requestId?: string;
  /** Set by a matching chaos `fail_operation` rule: operations this request starts fail so. */
  forcedFailure?: ForcedFailure;
  /** The caller (SPEC §10); absent for internal callers such as the engine. */
  principal?: Principal;
}
