import { Box, Static, Text } from 'ink';
import { bar, formatElapsed, resourceLabel, type OpView } from '../format.js';
import { TONE_COLOR } from './table.js';

export interface OperationBarProps {
  op: OpView;
  /** The clock, passed in so frames are deterministic in tests. */
  now: number;
  width?: number;
}

/** One operation: `⠿ vm.create vm-…  [████░░░░] 45%  booting  3.2s`, or its outcome once done. */
export function OperationBar({ op, now, width = 24 }: OperationBarProps) {
  const elapsed = formatElapsed((op.finishedAt ?? now) - op.startedAt);
  if (op.status === 'succeeded') {
    return (
      <Text>
        <Text color="green">✔</Text> {op.kind} <Text bold>{resourceLabel(op)}</Text> succeeded <Text dimColor>({op.id}, {elapsed})</Text>
      </Text>
    );
  }
  if (op.status === 'failed') {
    return (
      <Box flexDirection="column">
        <Text>
          <Text color="red">✘</Text> {op.kind} <Text bold>{resourceLabel(op)}</Text> <Text color="red">failed</Text> at {op.progress}%{' '}
          <Text dimColor>({op.id}, {elapsed})</Text>
        </Text>
        {op.error ? (
          <Text color="red">
            {'  '}
            {op.error.message} ({op.error.code})
          </Text>
        ) : null}
      </Box>
    );
  }
  return (
    <Text>
      <Text color={TONE_COLOR.busy}>{SPINNER[Math.floor(now / 100) % SPINNER.length]}</Text> {op.kind} <Text bold>{resourceLabel(op)}</Text>{' '}
      <Text color="cyan">{bar(op.progress, width)}</Text> {String(op.progress).padStart(3)}% {op.message || op.status} <Text dimColor>{elapsed}</Text>
    </Text>
  );
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface TailLine {
  key: string;
  text: string;
  tone?: 'ok' | 'bad' | 'plain';
}

export interface OperationBoardProps {
  /** Finished operations and other events: printed once, scrolling above the live bars. */
  done: (OpView | TailLine)[];
  /** Operations in flight: one live bar each. */
  active: OpView[];
  now: number;
  status?: string;
}

function isOpView(x: OpView | TailLine): x is OpView {
  return (x as OpView).kind !== undefined;
}

/** `mockcloud tail` and multi-operation waits: finished above (Static), live bars below. */
export function OperationBoard({ done, active, now, status }: OperationBoardProps) {
  return (
    <>
      <Static items={done}>
        {(item) =>
          isOpView(item) ? (
            <OperationBar key={`${item.id}:${item.status}`} op={item} now={now} />
          ) : (
            <Text key={item.key} color={item.tone === 'bad' ? 'red' : item.tone === 'ok' ? 'green' : undefined} dimColor={!item.tone || item.tone === 'plain'}>
              {item.text}
            </Text>
          )
        }
      </Static>
      <Box flexDirection="column">
        {active.map((op) => (
          <OperationBar key={op.id} op={op} now={now} />
        ))}
        {status ? <Text dimColor>{status}</Text> : null}
      </Box>
    </>
  );
}
