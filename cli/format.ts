import type { Operation } from '../core/api.js';

// Pure text formatting shared by the plain (piped) output and the Ink components, so both say the
// same thing. No React, no escape codes here.

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

/** Rows of cells padded into aligned columns (the last column is not padded). */
export function layoutTable(headers: string[], rows: string[][]): string[][] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)));
  return [pad(headers), ...rows.map(pad)];
}

export function tableLines<T>(columns: Column<T>[], items: T[]): string[] {
  const laid = layoutTable(columns.map((c) => c.header), items.map((item) => columns.map((c) => c.value(item))));
  return laid.map((cells) => cells.join('  ').trimEnd());
}

export type Tone = 'ok' | 'busy' | 'bad' | 'plain';

const OK = new Set(['running', 'available', 'in-use', 'succeeded', 'stopped']);
const BAD = new Set(['error', 'failed']);
export function toneOf(status: string | undefined): Tone {
  if (!status) return 'plain';
  if (OK.has(status)) return 'ok';
  if (BAD.has(status)) return 'bad';
  return 'busy';
}

export function formatElapsed(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

export function bar(progress: number, width = 24): string {
  const p = Math.max(0, Math.min(100, progress));
  const full = Math.round((p / 100) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** What the progress views show for one operation. `startedAt` is when we began watching (ms). */
export interface OpView {
  id: string;
  kind: string;
  resourceId: string;
  /** The resource's name, when the CLI knows it. */
  resourceName?: string;
  status: Operation['status'];
  progress: number;
  message: string;
  error?: { code: string; message: string } | null;
  startedAt: number;
  finishedAt?: number;
}

export function opViewOf(op: Operation, startedAt: number, previous?: OpView, resourceName?: string): OpView {
  const serverStart = Date.parse(op.started_at ?? op.created_at);
  return {
    id: op.id,
    kind: op.kind,
    resourceId: op.resource_id,
    resourceName: resourceName ?? previous?.resourceName,
    status: op.status,
    progress: op.progress,
    message: op.message,
    error: op.error ?? null,
    // Elapsed counts from when the operation was created when our clock agrees with the server's.
    startedAt: previous?.startedAt ?? (Number.isFinite(serverStart) && serverStart <= Date.now() ? serverStart : startedAt),
    finishedAt: op.done ? previous?.finishedAt ?? Date.now() : undefined,
  };
}

/** One plain line per step, e.g. `op-1 vm.create vm-2  45%  booting  (3.2s)`. */
export function plainOpLine(v: OpView, now: number): string {
  const elapsed = formatElapsed((v.finishedAt ?? now) - v.startedAt);
  const what = `${v.id} ${v.kind} ${resourceLabel(v)}`;
  if (v.status === 'succeeded') return `${what}  succeeded  (${elapsed})`;
  if (v.status === 'failed') return `${what}  failed: ${v.error ? `${v.error.message} (${v.error.code})` : v.message}  (${elapsed})`;
  return `${what}  ${String(v.progress).padStart(3)}%  ${v.message || v.status}  (${elapsed})`;
}

/** `vm-… (web1)` when the name is known, else the ID: the same form as details and errors. */
export function resourceLabel(v: Pick<OpView, 'resourceId' | 'resourceName'>): string {
  return v.resourceName && v.resourceName !== v.resourceId ? `${v.resourceId} (${v.resourceName})` : v.resourceId;
}

export function tagsText(tags: Record<string, string> | undefined): string {
  return Object.entries(tags ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
}
