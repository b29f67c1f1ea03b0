import type { Knex } from 'knex';
import type { Ctx } from '../common/context.js';
import { paginate, type Page, type PageTokens } from '../common/pagination.js';
import { isUniqueViolation, locked, nowIso, type Db } from '../db.js';
import { AppError, notFound } from '../errors.js';
import type { Bus } from '../events/bus.js';
import { newId } from '../ids.js';
import { exceedingScopes, type AuthMode, type Principal, type Role } from './access.js';
import * as queries from './queries.js';
import { serializeMember, serializeProject, serializeToken, serializeUser, type ProjectRow, type TokenRow, type UserRow } from './schema.js';
import { hashSecret, newSecret, sameSecret, TOKEN_PREFIX } from './secrets.js';

export type Project = ReturnType<typeof serializeProject>;
export type User = ReturnType<typeof serializeUser>;
export type Member = ReturnType<typeof serializeMember>;
export type Token = ReturnType<typeof serializeToken>;

export const REVOKED_CHANNEL = 'mockcloud.tokens.revoked';

/** Verified tokens are trusted this long without asking the database (SPEC §10: revocation within 1 s). */
const CACHE_MS = 1000;
const CACHE_MAX = 10_000;
/** last_used_at is a hint, not a log: written at most this often per token. */
const LAST_USED_EVERY_MS = 60_000;

export type Authentication =
  | { kind: 'none' }
  | { kind: 'ok'; principal: Principal }
  | { kind: 'invalid'; reason: string };

export interface IdentityDeps {
  db: Db;
  bus: Bus;
  mode: AuthMode;
  adminToken?: string;
  pageTokens: PageTokens;
}

interface Cached {
  principal: Principal;
  at: number;
}

const noSuchProject = (id: string) => notFound('project', id);

/** Projects, users, memberships, tokens and who is asking (SPEC §10). */
export class IdentityService {
  private readonly cache = new Map<string, Cached>();
  private readonly lastUsedWritten = new Map<string, number>();
  private unsubscribe?: () => Promise<void>;

  constructor(private readonly deps: IdentityDeps) {}

  get mode(): AuthMode {
    return this.deps.mode;
  }

  /** Revocations made on any replica drop its cached tokens at once (the 1 s cache is the fallback). */
  async start(): Promise<void> {
    this.unsubscribe = await this.deps.bus.subscribe(REVOKED_CHANNEL, (tokenId) => this.forget(tokenId));
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.();
  }

  private forget(tokenId: string): void {
    for (const [hash, c] of this.cache) if (c.principal.tokenId === tokenId) this.cache.delete(hash);
  }

  /** Resolves a bearer token. `project` is the admin's choice of project (`Mockcloud-Project`). */
  async authenticate(bearer: string | undefined, project?: string): Promise<Authentication> {
    if (bearer === undefined) return { kind: 'none' };
    const now = Date.now();
    if (this.deps.adminToken !== undefined && !bearer.startsWith(TOKEN_PREFIX) && sameSecret(bearer, this.deps.adminToken)) {
      const projectId = project ?? 'default';
      if (project !== undefined && !(await queries.projectById(this.deps.db, project))) return { kind: 'invalid', reason: `no project ${project}` };
      return { kind: 'ok', principal: { kind: 'admin', projectId, scopes: ['*:write', 'admin'], role: 'owner' } };
    }
    if (!bearer.startsWith(TOKEN_PREFIX)) return { kind: 'invalid', reason: 'the token is not valid' };
    const hash = hashSecret(bearer);
    const hit = this.cache.get(hash);
    let principal: Principal;
    if (hit && now - hit.at < CACHE_MS) principal = hit.principal;
    else {
      const row = await queries.tokenByHash(this.deps.db, hash);
      if (!row) return { kind: 'invalid', reason: 'the token is not valid' };
      if (row.revoked_at) return { kind: 'invalid', reason: 'the token was revoked' };
      let role: Role = 'owner';
      if (row.user_id) {
        const m = await queries.membership(this.deps.db, row.project_id, row.user_id);
        if (!m) return { kind: 'invalid', reason: "the token's user is no longer a member of its project" };
        role = m.role;
      }
      principal = { kind: 'token', projectId: row.project_id, tokenId: row.id, userId: row.user_id, role, scopes: JSON.parse(row.scopes) as string[], expiresMs: row.expires_ms };
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(hash, { principal, at: now });
      this.touch(row, now);
    }
    if (principal.expiresMs != null && principal.expiresMs <= now) return { kind: 'invalid', reason: 'the token has expired' };
    return { kind: 'ok', principal };
  }

  private touch(row: TokenRow, now: number): void {
    const last = this.lastUsedWritten.get(row.id) ?? (row.last_used_at ? Date.parse(row.last_used_at) : 0);
    if (now - last < LAST_USED_EVERY_MS) return;
    this.lastUsedWritten.set(row.id, now);
    if (this.lastUsedWritten.size > CACHE_MAX) this.lastUsedWritten.clear();
    // Off the request's path: a lost write only makes last_used_at older.
    void this.deps.db('api_tokens').where({ id: row.id }).update({ last_used_at: new Date(now).toISOString() }).catch(() => undefined);
  }

  whoami(ctx: Ctx) {
    const p = ctx.principal;
    return {
      auth: this.deps.mode,
      kind: p?.kind ?? 'anonymous',
      project_id: ctx.projectId,
      user_id: p?.userId ?? null,
      token_id: p?.tokenId ?? null,
      role: p?.role ?? null,
      scopes: p?.scopes ?? [],
      expires_at: p?.expiresMs ? new Date(p.expiresMs).toISOString() : null,
    };
  }

  // ---- users (admin)

  async createUser(input: { name: string; email?: string }): Promise<User> {
    const row: UserRow = { id: newId('usr'), name: input.name, email: input.email ?? null, created_at: nowIso() };
    try {
      await this.deps.db('users').insert(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('already_exists', `a user named "${input.name}" already exists`);
      throw err;
    }
    return serializeUser(row);
  }

  async listUsers(q: { limit?: number; pageToken?: string; name?: string }): Promise<Page<User>> {
    const query = this.deps.db('users').select('users.*');
    if (q.name) query.where('name', q.name);
    const { rows, nextPageToken } = await paginate<UserRow>(query, 'users', { limit: q.limit, pageToken: q.pageToken, tokens: this.deps.pageTokens, scope: { collection: 'users', projectId: '*', filters: { name: q.name } } });
    return { items: rows.map(serializeUser), next_page_token: nextPageToken };
  }

  // ---- projects

  async createProject(input: { name: string; owner_id?: string }): Promise<Project> {
    const row: ProjectRow = { id: newId('prj'), name: input.name, created_at: nowIso() };
    try {
      await this.deps.db.transaction(async (trx) => {
        if (input.owner_id && !(await queries.userById(trx, input.owner_id))) throw notFound('user', input.owner_id);
        await trx('projects').insert(row);
        if (input.owner_id) await trx('memberships').insert({ project_id: row.id, user_id: input.owner_id, role: 'owner', created_at: row.created_at, updated_at: row.created_at });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('already_exists', `a project named "${input.name}" already exists`);
      throw err;
    }
    return serializeProject(row);
  }

  /** The admin sees every project; a token sees its own. */
  async listProjects(ctx: Ctx, q: { limit?: number; pageToken?: string; name?: string }): Promise<Page<Project>> {
    const query = this.deps.db('projects').select('projects.*');
    if (ctx.principal?.kind !== 'admin' && this.deps.mode !== 'off') query.where('id', ctx.projectId);
    if (q.name) query.andWhere('name', q.name);
    const { rows, nextPageToken } = await paginate<ProjectRow>(query, 'projects', { limit: q.limit, pageToken: q.pageToken, tokens: this.deps.pageTokens, scope: { collection: 'projects', projectId: ctx.projectId, filters: { name: q.name } } });
    return { items: rows.map(serializeProject), next_page_token: nextPageToken };
  }

  async deleteProject(id: string): Promise<void> {
    if (id === 'default') throw new AppError('invalid_state', 'the default project cannot be deleted');
    if (!(await queries.projectById(this.deps.db, id))) throw noSuchProject(id);
    const blockers = await queries.projectHolds(this.deps.db, id);
    if (blockers.length) throw new AppError('dependency_violation', `project ${id} still holds environments`, { dependents: blockers });
    const tokens = (await this.deps.db('api_tokens').where({ project_id: id }).select('id')) as { id: string }[];
    await this.deps.db.transaction(async (trx) => {
      await trx('api_tokens').where({ project_id: id }).delete();
      await trx('memberships').where({ project_id: id }).delete();
      await trx('projects').where({ id }).delete();
    });
    for (const t of tokens) await this.deps.bus.publish(REVOKED_CHANNEL, t.id);
  }

  // ---- members: the path's project must be the caller's (another project's id answers 404)

  private visibleProject(ctx: Ctx, projectId: string): void {
    if (ctx.principal?.kind !== 'admin' && this.deps.mode !== 'off' && projectId !== ctx.projectId) throw noSuchProject(projectId);
  }

  async listMembers(ctx: Ctx, projectId: string): Promise<{ items: Member[] }> {
    this.visibleProject(ctx, projectId);
    if (!(await queries.projectById(this.deps.db, projectId))) throw noSuchProject(projectId);
    return { items: (await queries.membersOf(this.deps.db, projectId)).map(serializeMember) };
  }

  async putMember(ctx: Ctx, projectId: string, userId: string, role: Role): Promise<{ member: Member; created: boolean }> {
    this.visibleProject(ctx, projectId);
    const db = this.deps.db;
    return db.transaction(async (trx) => {
      if (!(await queries.projectById(trx, projectId))) throw noSuchProject(projectId);
      const user = await queries.userById(trx, userId);
      if (!user) throw notFound('user', userId);
      const at = nowIso();
      const existing = await queries.membership(trx, projectId, userId);
      if (existing?.role === 'owner' && role !== 'owner') await keepAnOwner(trx, projectId, userId, 'demote');
      if (existing) await trx('memberships').where({ project_id: projectId, user_id: userId }).update({ role, updated_at: at });
      else await trx('memberships').insert({ project_id: projectId, user_id: userId, role, created_at: at, updated_at: at });
      const member = serializeMember({ project_id: projectId, user_id: userId, role, created_at: existing?.created_at ?? at, updated_at: at, user_name: user.name });
      return { member, created: !existing };
    });
  }

  async deleteMember(ctx: Ctx, projectId: string, userId: string): Promise<void> {
    this.visibleProject(ctx, projectId);
    await this.deps.db.transaction(async (trx) => {
      const existing = await queries.membership(trx, projectId, userId);
      if (!existing) throw notFound('member', userId);
      if (existing.role === 'owner') await keepAnOwner(trx, projectId, userId, 'remove');
      await trx('memberships').where({ project_id: projectId, user_id: userId }).delete();
    });
  }

  // ---- tokens

  async createToken(ctx: Ctx, input: { name: string; project_id?: string; user_id?: string | null; scopes: string[]; expires_in_s?: number | null }): Promise<Token & { secret: string }> {
    const creator: Principal = ctx.principal ?? { kind: 'admin', projectId: ctx.projectId, scopes: ['*:write'] };
    const projectId = input.project_id ?? ctx.projectId;
    this.visibleProject(ctx, projectId);
    const db = this.deps.db;
    if (!(await queries.projectById(db, projectId))) throw noSuchProject(projectId);
    // A token acts for its creator's user; only the admin may mint one for someone else.
    let userId: string | null = creator.kind === 'token' ? (creator.userId ?? null) : (input.user_id ?? null);
    if (creator.kind === 'token' && input.user_id != null && input.user_id !== creator.userId) {
      throw new AppError('forbidden', 'a token can only create tokens for its own user', { missingScopes: ['admin'] });
    }
    let role: Role = creator.role ?? 'owner';
    if (userId) {
      const m = await queries.membership(db, projectId, userId);
      if (!m) throw new AppError('invalid_value', `user ${userId} is not a member of project ${projectId}`);
      role = m.role;
    }
    if (creator.kind !== 'token') userId = userId ?? null;
    const exceeding = exceedingScopes(input.scopes, creator, role);
    if (exceeding.length) throw new AppError('forbidden', `a token cannot exceed its creator's role and scopes: ${exceeding.join(', ')}`, { missingScopes: exceeding });
    const secret = newSecret();
    const now = Date.now();
    const expiresMs = input.expires_in_s == null ? null : now + input.expires_in_s * 1000;
    const row: TokenRow = {
      id: newId('tok'),
      project_id: projectId,
      user_id: userId,
      name: input.name,
      scopes: JSON.stringify([...new Set(input.scopes)]),
      secret_hash: hashSecret(secret),
      created_by: creator.kind === 'admin' ? 'admin' : (creator.userId ?? creator.tokenId ?? 'anonymous'),
      created_at: new Date(now).toISOString(),
      expires_at: expiresMs === null ? null : new Date(expiresMs).toISOString(),
      expires_ms: expiresMs,
      last_used_at: null,
      revoked_at: null,
    };
    await db('api_tokens').insert(row);
    return { ...serializeToken(row), secret };
  }

  /** Owners and the admin see every token of the project; others their user's own. */
  private tokenScope(ctx: Ctx, everyProject = false) {
    const p = ctx.principal;
    return (q: import('knex').Knex.QueryBuilder) => {
      // The admin revokes any token by id, wherever it lives.
      if (everyProject && (p?.kind === 'admin' || this.deps.mode === 'off')) return;
      q.where('api_tokens.project_id', ctx.projectId);
      if (p?.kind === 'token' && p.role !== 'owner') {
        if (p.userId) q.andWhere('api_tokens.user_id', p.userId);
        else q.andWhere('api_tokens.id', p.tokenId ?? '');
      }
    };
  }

  async listTokens(ctx: Ctx, q: { limit?: number; pageToken?: string; include_revoked?: boolean }): Promise<Page<Token>> {
    const query = this.deps.db('api_tokens').select('api_tokens.*');
    this.tokenScope(ctx)(query);
    if (!q.include_revoked) query.whereNull('revoked_at');
    const { rows, nextPageToken } = await paginate<TokenRow>(query, 'api_tokens', { limit: q.limit, pageToken: q.pageToken, tokens: this.deps.pageTokens, scope: { collection: 'api_tokens', projectId: ctx.projectId, filters: { include_revoked: q.include_revoked } } });
    return { items: rows.map(serializeToken), next_page_token: nextPageToken };
  }

  async revokeToken(ctx: Ctx, id: string): Promise<Token> {
    const query = this.deps.db('api_tokens').where('api_tokens.id', id).first();
    this.tokenScope(ctx, true)(query);
    const row = (await query) as TokenRow | undefined;
    if (!row) throw notFound('token', id);
    if (!row.revoked_at) {
      row.revoked_at = nowIso();
      await this.deps.db('api_tokens').where({ id }).update({ revoked_at: row.revoked_at });
    }
    this.forget(id);
    await this.deps.bus.publish(REVOKED_CHANNEL, id);
    return serializeToken(row);
  }
}

/**
 * A project that has an owner keeps one, as real clouds insist: otherwise nobody but the admin could
 * manage its members again. The owner rows are locked (PostgreSQL) so two owners demoting each other
 * at once cannot both see the other as the one who stays: the second waits, re-reads, and is refused.
 */
async function keepAnOwner(trx: Knex.Transaction, projectId: string, userId: string, action: 'demote' | 'remove'): Promise<void> {
  const owners = (await locked(trx, trx('memberships').where({ project_id: projectId, role: 'owner' }).select('user_id'), 'update')) as { user_id: string }[];
  if (owners.length === 1 && owners[0]!.user_id === userId) {
    throw new AppError('invalid_state', `user ${userId} is the last owner of project ${projectId}; make another member owner before you ${action} this one`);
  }
}
