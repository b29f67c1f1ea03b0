import type { OpView } from '../format.js';
import type { DetailsProps, TableProps } from './table.js';
import type { OperationBoardProps, TailLine } from './operation-progress.js';

// Imperative wrappers (after Shopify's public/node/ui.tsx): commands call these and never touch
// React. Ink and React are imported lazily here, so a `--output json` run never loads them.

type Stream = NodeJS.WriteStream;

async function ink() {
  const [{ render }, { createElement }] = await Promise.all([import('ink'), import('react')]);
  return { render, createElement };
}

const renderOptions = (stream: Stream) => ({ stdout: stream, stderr: process.stderr, patchConsole: false, exitOnCtrlC: false });

async function renderOnce(element: unknown, stream: Stream): Promise<void> {
  const { render } = await ink();
  const instance = render(element as Parameters<typeof render>[0], renderOptions(stream));
  instance.unmount();
  await instance.waitUntilExit();
}

export async function renderTable(props: TableProps, stream: Stream = process.stdout): Promise<void> {
  const [{ createElement }, { Table }] = await Promise.all([ink(), import('./table.js')]);
  await renderOnce(createElement(Table, props), stream);
}

export async function renderDetails(props: DetailsProps, stream: Stream = process.stdout): Promise<void> {
  const [{ createElement }, { Details }] = await Promise.all([ink(), import('./table.js')]);
  await renderOnce(createElement(Details, props), stream);
}

export interface BoardHandle {
  /** Adds or updates an operation; a finished one moves above the live bars. */
  upsert(op: OpView): void;
  /** A line that scrolls above the bars (an event, a notice). */
  log(line: TailLine): void;
  status(text: string | undefined): void;
  stop(): Promise<void>;
}

/** Live progress bars for operations in flight (for --wait and `tail`), redrawn ten times a second. */
export async function renderBoard(stream: Stream = process.stderr): Promise<BoardHandle> {
  const [{ render, createElement }, { OperationBoard }] = await Promise.all([ink(), import('./operation-progress.js')]);
  const state: OperationBoardProps = { done: [], active: [], now: Date.now() };
  const draw = () => createElement(OperationBoard, { ...state, now: Date.now() });
  const instance = render(draw(), renderOptions(stream));
  const timer = setInterval(() => instance.rerender(draw()), 100);
  return {
    upsert(op) {
      const others = state.active.filter((a) => a.id !== op.id);
      // A finished operation is printed once: the last event and the last poll both report it, and
      // <Static> writes every item it is given, so a second copy would print the line twice.
      if (state.done.some((d) => (d as OpView).id === op.id && (d as OpView).status === op.status)) return;
      if (op.status === 'succeeded' || op.status === 'failed') {
        state.active = others;
        state.done = [...state.done, op];
      } else {
        const at = state.active.findIndex((a) => a.id === op.id);
        state.active = at < 0 ? [...others, op] : state.active.map((a) => (a.id === op.id ? op : a));
      }
      instance.rerender(draw());
    },
    log(line) {
      state.done = [...state.done, line];
      instance.rerender(draw());
    },
    status(text) {
      state.status = text;
      instance.rerender(draw());
    },
    async stop() {
      clearInterval(timer);
      instance.rerender(draw());
      instance.unmount();
      await instance.waitUntilExit();
    },
  };
}
