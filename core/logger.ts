import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

// Logging for the server and worker processes. JSON lines (one object per line, for log shippers)
// when stdout is not a terminal or when --log-format json / MOCKCLOUD_LOG_FORMAT=json asks; short
// human lines on a terminal. Output is asynchronous and buffered (sonic-boom), flushed on exit:
// a synchronous write per request line was 15–30 % of the API's throughput (docs/performance.md).

export type LogFormat = 'json' | 'pretty';

/** `auto` means human lines on a terminal, JSON otherwise. */
export function chooseLogFormat(configured: Config['logFormat'], isTTY: boolean | undefined): LogFormat {
  if (configured === 'json' || configured === 'pretty') return configured;
  return isTTY ? 'pretty' : 'json';
}

export function createLogger(config: Config, name: string, out: NodeJS.WriteStream = process.stdout): Logger {
  const format = chooseLogFormat(config.logFormat, out.isTTY);
  const options = { name, level: config.logLevel, base: { pid: process.pid, process: name } };
  if (format === 'pretty') return pino(options, prettyStream(out));
  const dest = pino.destination({ dest: (out as { fd?: number }).fd ?? 1, sync: false });
  // Lines still in the buffer are written before the process ends, however it ends.
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // stdout already closed: nothing to save
    }
  });
  return pino(options, dest);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'name', 'process', 'msg', 'req', 'res', 'responseTime', 'request_id', 'err']);

/** One short line per log object: `12:00:01 GET /api/v1/vms 200 3 ms`, or `12:00:01 WARN message key=value`. */
export function formatPretty(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString().slice(11, 19);
  const level = typeof o.level === 'number' ? o.level : 30;
  const req = o.req as { method?: string; url?: string } | undefined;
  const res = o.res as { status?: number } | undefined;
  let text: string;
  if (req && res) {
    text = `${time} ${req.method} ${req.url} ${res.status} ${typeof o.responseTime === 'number' ? `${o.responseTime} ms` : ''}`.trimEnd();
    if (level >= 50) text += ` ${LEVELS[level]}`;
  } else {
    const extra = Object.entries(o)
      .filter(([k]) => !OMIT.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    text = `${time} ${(LEVELS[level] ?? String(level)).padEnd(5)} ${String(o.msg ?? '')}${extra.length ? ` ${extra.join(' ')}` : ''}`;
  }
  const err = o.err as { stack?: string; message?: string } | undefined;
  if (err) text += `\n${err.stack ?? err.message ?? ''}`;
  return `${text}\n`;
}

function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return { write: (line: string) => void out.write(formatPretty(line)) };
}
