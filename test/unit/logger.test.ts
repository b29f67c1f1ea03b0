import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../core/config.js';
import { chooseLogFormat, createLogger, formatPretty } from '../../server/logger.js';

describe('unit: log format', () => {
  it('writes short human lines on a terminal and JSON lines anywhere else, unless told otherwise', () => {
    expect(chooseLogFormat('auto', true)).to.equal('pretty');
    expect(chooseLogFormat('auto', false)).to.equal('json');
    expect(chooseLogFormat('auto', undefined)).to.equal('json');
    expect(chooseLogFormat('json', true)).to.equal('json');
    expect(chooseLogFormat('pretty', false)).to.equal('pretty');
  });

  it('reads MOCKCLOUD_LOG_FORMAT and --log-format (the flag wins), default auto, and refuses other values', () => {
    expect(loadConfig({}).logFormat).to.equal('auto');
    expect(loadConfig({ MOCKCLOUD_LOG_FORMAT: 'JSON' }).logFormat).to.equal('json');
    expect(loadConfig({ MOCKCLOUD_LOG_FORMAT: 'json' }, { logFormat: 'pretty' }).logFormat).to.equal('pretty');
    expect(() => loadConfig({ MOCKCLOUD_LOG_FORMAT: 'xml' })).to.throw(ConfigError, /MOCKCLOUD_LOG_FORMAT/);
  });

  it('formats a request line as time, method, path, status and duration', () => {
    const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 1, 12, 0, 1), msg: 'request completed', request_id: 'r1', req: { method: 'GET', url: '/api/v1/vms' }, res: { status: 200 }, responseTime: 3.2 });
    expect(formatPretty(line)).to.equal('12:00:01 GET /api/v1/vms 200 3.2 ms\n');
  });

  it('formats other lines as time, level, message and fields, with an error stack below', () => {
    const line = JSON.stringify({ level: 50, time: Date.UTC(2026, 0, 1, 12, 0, 1), pid: 1, name: 'mockcloud', msg: 'queue error', context: 'publish', err: { message: 'boom', stack: 'Error: boom\n    at x' } });
    expect(formatPretty(line)).to.equal('12:00:01 ERROR queue error context=publish\nError: boom\n    at x\n');
  });

  it('on a terminal the logger writes human lines, not JSON', () => {
    const written: string[] = [];
    const tty = { isTTY: true, fd: 99, write: (s: string) => written.push(s) > 0 } as unknown as NodeJS.WriteStream;
    const logger = createLogger(loadConfig({ MOCKCLOUD_LOG_LEVEL: 'info' }), 'test', tty);
    logger.info({ url: 'http://x' }, 'mockcloud API listening');
    expect(written).to.have.length(1);
    expect(written[0]).to.match(/^\d\d:\d\d:\d\d INFO  mockcloud API listening url=http:\/\/x\n$/);
  });
});
