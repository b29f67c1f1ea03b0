import { RESOURCES, type ApiClient, type Item, type ResourceKind } from './api-client.js';
import { ApiError, CliError } from './errors.js';

// "IDs or names wherever a resource is named": an ID is tried as such first (a name may look like
// one), then the list endpoint's exact `?name=` filter decides — zero or several matches is a
// user error that says what to do next.

export async function resolve<K extends ResourceKind>(client: ApiClient, kind: K, ref: string, scope: { environmentId?: string } = {}): Promise<Item<K>> {
  const spec = RESOURCES[kind];
  if (ref.startsWith(spec.prefix)) {
    try {
      return await client.get(kind, ref);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }
  const query = kind === 'env' ? { name: ref } : { name: ref, environment_id: scope.environmentId };
  const matches = await client.listAll(kind, query, 20);
  if (matches.length === 1) return matches[0]!;
  const listCmd = `mockcloud ${kind} list`;
  if (matches.length === 0) {
    const where = scope.environmentId ? ` in environment ${scope.environmentId}` : '';
    throw new CliError(`no ${spec.noun} with ID or name "${ref}"${where}`, `see \`${listCmd}\``);
  }
  const which = matches.map((m) => `${m.id}${'environment_id' in m ? ` in ${m.environment_id}` : ''}`).join(', ');
  throw new CliError(`"${ref}" names ${matches.length} ${spec.noun}s (${which})`, 'use the ID, or name the environment with --env');
}

export async function resolveId<K extends ResourceKind>(client: ApiClient, kind: K, ref: string, scope: { environmentId?: string } = {}): Promise<string> {
  return (await resolve(client, kind, ref, scope)).id;
}

/** The environment scope given with --env, resolved to an ID (or undefined when not given). */
export async function envScope(client: ApiClient, env: string | undefined): Promise<{ environmentId?: string }> {
  return env ? { environmentId: await resolveId(client, 'env', env) } : {};
}
