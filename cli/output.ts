import { search } from 'jmespath';
import type { Ctx } from './context.js';
import { CliError } from './errors.js';
import { tableLines, type Column } from './format.js';

// How results leave the CLI: `--output json` writes exactly the API objects as one JSON document
// (or what `--query` picks out of it), `--quiet` the IDs, a terminal gets an Ink table, a pipe gets
// the same table as plain text. Tables take `--format COL,COL` and `--no-header`, as doctl's do.

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * `--query` is a JMESPath expression (the language of `aws --query`), applied to the JSON the
 * command would print. A string result prints bare, so `$(mockcloud … --query id)` is the ID.
 */
export function emitJson(ctx: Pick<Ctx, 'query'>, value: unknown): void {
  if (!ctx.query) return writeJson(value);
  let picked: unknown;
  try {
    picked = search(value, ctx.query) as unknown;
  } catch (err) {
    throw new CliError(`--query "${ctx.query}" is not a JMESPath expression: ${(err as Error).message}`, 'e.g. --query id, --query "[].name", --query "[?status==\'running\'].id"', 2);
  }
  if (typeof picked === 'string') process.stdout.write(`${picked}\n`);
  else writeJson(picked);
}

/** `--format ID,Name` → those columns in that order; headers match case-insensitively. */
export function pickColumns<T>(columns: Column<T>[], format: string[] | undefined): Column<T>[] {
  if (!format?.length) return columns;
  const norm = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '');
  return format.map((name) => {
    const col = columns.find((c) => norm(c.header) === norm(name));
    if (!col) throw new CliError(`--format: no column "${name}"`, `columns: ${columns.map((c) => c.header).join(', ')}`, 2);
    return col;
  });
}

/** `items` is the plural noun for the empty case: "No VMs found." */
export async function emitList<T extends { id?: string }>(ctx: Ctx, items: T[], allColumns: Column<T>[], plural: string, statusHeader = 'STATUS'): Promise<void> {
  if (ctx.output === 'json' || ctx.query) return emitJson(ctx, items);
  if (ctx.quiet) {
    for (const item of items) process.stdout.write(`${item.id ?? ''}\n`);
    return;
  }
  const columns = pickColumns(allColumns, ctx.format);
  // On stderr: a script reading stdout sees an empty table, a person sees why.
  if (items.length === 0) return void process.stderr.write(`No ${plural} found.\n`);
  if (ctx.stdoutTty) {
    const { renderTable } = await import('./ui/render.js');
    const statusColumn = columns.findIndex((c) => c.header === statusHeader);
    return renderTable({ headers: columns.map((c) => c.header), rows: items.map((i) => columns.map((c) => c.value(i))), statusColumn: statusColumn < 0 ? undefined : statusColumn, header: ctx.header });
  }
  const lines = tableLines(columns, items);
  process.stdout.write(`${(ctx.header ? lines : lines.slice(1)).join('\n')}\n`);
}

export type Field<T> = [label: string, value: (item: T) => string];

/** The one detail layout, plain and Ink alike: `key:` padded to the longest key, then the value. */
export function detailLines(pairs: [string, string][]): string[] {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`);
}

export async function emitOne<T extends object>(ctx: Ctx, item: T, fields: Field<T>[]): Promise<void> {
  if (ctx.output === 'json' || ctx.query) return emitJson(ctx, item);
  if (ctx.quiet) {
    const id = (item as { id?: unknown }).id;
    if (typeof id === 'string') process.stdout.write(`${id}\n`);
    return;
  }
  const pairs = fields.map(([k, f]) => [k, f(item)] as [string, string]).filter(([, v]) => v !== '');
  if (ctx.stdoutTty) {
    const { renderDetails } = await import('./ui/render.js');
    return renderDetails({ fields: pairs });
  }
  process.stdout.write(detailLines(pairs).join('\n') + '\n');
}

/** A one-line confirmation for humans (nothing in json/quiet mode, which print the object/ID). */
export function say(ctx: Pick<Ctx, 'output' | 'quiet' | 'query'>, line: string): void {
  if (ctx.output === 'json' || ctx.quiet || ctx.query) return;
  process.stderr.write(`${line}\n`);
}
