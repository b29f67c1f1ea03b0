import { Box, Text } from 'ink';
import { layoutTable, toneOf, type Tone } from '../format.js';

// Ink components only render: every value arrives as a prop, already formatted as text.

export const TONE_COLOR: Record<Tone, string | undefined> = { ok: 'green', busy: 'yellow', bad: 'red', plain: undefined };

export interface TableProps {
  headers: string[];
  rows: string[][];
  /** Index of the column whose value is a status (coloured by tone). */
  statusColumn?: number;
  /** false for `--no-header`. */
  header?: boolean;
}

export function Table({ headers, rows, statusColumn, header = true }: TableProps) {
  const laid = layoutTable(headers, rows);
  const [head, ...body] = laid;
  return (
    <Box flexDirection="column">
      {header ? <Text bold>{head!.join('  ').trimEnd()}</Text> : null}
      {body.map((cells, r) => (
        <Text key={r} wrap="truncate-end">
          {cells.map((cell, i) => (
            <Text key={i} color={i === statusColumn ? TONE_COLOR[toneOf(rows[r]![i])] : undefined}>
              {i < cells.length - 1 ? `${cell}  ` : cell}
            </Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}

export interface DetailsProps {
  fields: [string, string][];
  statusField?: string;
}

/** A single resource as aligned `key: value` lines, the same layout as the plain output. */
export function Details({ fields, statusField = 'status' }: DetailsProps) {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return (
    <Box flexDirection="column">
      {fields.map(([key, value]) => (
        <Text key={key}>
          <Text bold>{`${key}:`.padEnd(width)}</Text>
          {' '}
          <Text color={key === statusField ? TONE_COLOR[toneOf(value)] : undefined}>{value}</Text>
        </Text>
      ))}
    </Box>
  );
}
