import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { contextOf } from '../context.js';
import { CliError } from '../errors.js';
import { emitJson } from '../output.js';
import { action, collect, examples } from './shared.js';

// `mockcloud api METHOD PATH`: a raw request with the CLI's endpoint and token, after `gh api`.
// -f key=value adds a string field, -F key=value a typed one (numbers, true/false, null); fields go
// in the query string of a GET/DELETE and in a JSON body otherwise. `key[sub]=v` nests in a body.

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

function typed(raw: string): unknown {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

function splitField(value: string): [string, string] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  return [value.slice(0, eq), value.slice(eq + 1)];
}

/** `tags[team]=infra` → { tags: { team: 'infra' } } */
export function nestField(body: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.replace(/\]/g, '').split('[');
  let at = body;
  for (const part of parts.slice(0, -1)) {
    if (typeof at[part] !== 'object' || at[part] === null) at[part] = {};
    at = at[part] as Record<string, unknown>;
  }
  at[parts[parts.length - 1]!] = value;
}

/** The path as typed: `/api/v1/vms`, or relative to /api/v1 (`vms?limit=5`). */
export function apiPath(path: string): string {
  return path.startsWith('/') ? path : `/api/v1/${path}`;
}

export function registerApiCommand(program: Command): void {
  examples(
    program
      .command('api')
      .description('send any request to the API with the CLI\'s endpoint and token, and print the answer (like `gh api`)')
      .argument('<method>', METHODS.join('|'))
      .argument('<path>', 'e.g. /api/v1/vms, or relative to /api/v1: vms')
      .option('-f, --raw-field <key=value>', 'a string field (repeatable): query parameter for GET/DELETE, JSON body field otherwise', collect)
      .option('-F, --field <key=value>', 'like -f, but true/false/null and numbers keep their JSON type (repeatable)', collect)
      .option('-H, --header <name:value>', 'an extra request header (repeatable)', collect)
      .option('--input <file>', 'the request body from a file ("-" for stdin), sent as is')
      .addOption(new Option('-i, --include', 'print the status line and response headers too')),
    [
      'mockcloud api GET /api/v1/vms -f limit=5',
      'mockcloud api GET environments -f "tags[team]=infra"',
      'mockcloud api POST environments -f name=demo2 -f cidr=10.30.0.0/16 -f "tags[team]=infra"',
      'mockcloud api PATCH simulation -F failure_rate=0 -H "content-type: application/merge-patch+json"',
      'mockcloud api GET /ready --include',
    ],
  ).action(
    action(async (methodArg: string, path: string, flags: { rawField?: string[]; field?: string[]; header?: string[]; input?: string; include?: boolean }, self: Command) => {
      const ctx = contextOf(self);
      const method = methodArg.toUpperCase();
      if (!METHODS.includes(method)) throw new CliError(`unknown method "${methodArg}"`, `use one of ${METHODS.join(', ')}`, 2);
      const fields: [string, unknown][] = [
        ...(flags.rawField ?? []).map((f) => splitField(f)),
        ...(flags.field ?? []).map((f) => {
          const [k, v] = splitField(f);
          return [k, typed(v)] as [string, unknown];
        }),
      ];
      const headers: Record<string, string> = {};
      for (const h of flags.header ?? []) {
        const colon = h.indexOf(':');
        if (colon <= 0) throw new CliError(`-H expects "name: value", got "${h}"`, undefined, 2);
        headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
      }
      const inQuery = method === 'GET' || method === 'DELETE' || method === 'HEAD';
      let body: string | undefined;
      const query: Record<string, string[]> = {};
      if (flags.input !== undefined) body = readFileSync(flags.input === '-' ? 0 : flags.input, 'utf8');
      if (inQuery) {
        for (const [k, v] of fields) (query[k] ??= []).push(String(v));
      } else if (fields.length) {
        if (body !== undefined) throw new CliError('give the body with --input or with fields, not both', undefined, 2);
        const doc: Record<string, unknown> = {};
        for (const [k, v] of fields) nestField(doc, k, v);
        body = JSON.stringify(doc);
      }
      if (body !== undefined) headers['content-type'] ??= method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
      const reply = await ctx.client.raw(method, apiPath(path), { query, body, headers });
      if (flags.include) {
        process.stdout.write(`HTTP ${reply.status}\n`);
        for (const [k, v] of Object.entries(reply.headers)) process.stdout.write(`${k}: ${Array.isArray(v) ? v.join(', ') : v}\n`);
        process.stdout.write('\n');
      }
      const type = String(reply.headers['content-type'] ?? '');
      let parsed: unknown;
      if (/json/.test(type) && reply.text) {
        try {
          parsed = JSON.parse(reply.text);
        } catch {
          parsed = undefined;
        }
      }
      if (parsed !== undefined) emitJson(ctx, parsed);
      else if (reply.text) process.stdout.write(reply.text.endsWith('\n') ? reply.text : `${reply.text}\n`);
      // As gh api: the body is printed either way, an error status makes the exit code 1.
      if (reply.status >= 400) {
        const problem = parsed as { title?: string; code?: string } | undefined;
        process.stderr.write(`error: HTTP ${reply.status}${problem?.code ? ` ${problem.code}` : ''}${problem?.title ? `: ${problem.title}` : ''}\n`);
        process.exitCode = 1;
      }
    }),
  );
}
