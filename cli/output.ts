import type { Ctx } from './context.js';
import { tableLines, type Column } from './format.js';

// How results leave the CLI: `--output json` writes exactly the API objects as one JSON document,
// `--quiet` the IDs, a terminal gets an Ink table, a pipe gets the same table as plain text.

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export async function emitList<T extends { id?: string }>(ctx: Ctx, items: T[], columns: Column<T>[], statusHeader = 'STATUS'): Promise<void> {
  if (ctx.output === 'json') return writeJson(items);
  if (ctx.quiet) {
    for (const item of items) process.stdout.write(`${item.id ?? ''}\n`);
    return;
  }
  if (ctx.stdoutTty) {
    const { renderTable } = await import('./ui/render.js');
    const statusColumn = columns.findIndex((c) => c.header === statusHeader);
    return renderTable({ headers: columns.map((c) => c.header), rows: items.map((i) => columns.map((c) => c.value(i))), statusColumn: statusColumn < 0 ? undefined : statusColumn });
  }
  if (items.length === 0) return;
  process.stdout.write(`${tableLines(columns, items).join('\n')}\n`);
}

export type Field<T> = [label: string, value: (item: T) => string];

export async function emitOne<T extends object>(ctx: Ctx, item: T, fields: Field<T>[]): Promise<void> {
  if (ctx.output === 'json') return writeJson(item);
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
  const width = Math.max(...pairs.map(([k]) => k.length));
  process.stdout.write(pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join('\n') + '\n');
}

/** A one-line confirmation for humans (nothing in json/quiet mode, which print the object/ID). */
export function say(ctx: Ctx, line: string): void {
  if (ctx.output === 'json' || ctx.quiet) return;
  process.stderr.write(`${line}\n`);
}
