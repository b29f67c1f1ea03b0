import type { Principal } from '../identity/access.js';

/** Who is asking: every service call is scoped to one project (SPEC §10). */
export interface Ctx {
  projectId: string;
  requestId?: string;
  /** The caller (SPEC §10); absent for internal callers such as the engine. */
  principal?: Principal;
}
