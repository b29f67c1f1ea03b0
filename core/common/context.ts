/** Who is asking: every service call is scoped to one project (SPEC §10). */
export interface Ctx {
  projectId: string;
  requestId?: string;
}
