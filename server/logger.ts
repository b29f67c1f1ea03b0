import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

// Process loggers are made in core/logger.ts; this is the per-request line of the API.
export { chooseLogFormat, createLogger, formatPretty, type LogFormat } from '../core/logger.js';

/**
 * One line per finished request at info (errors at error), with the request id: the same keys as
 * pino-http's "request completed" line, without its per-request child logger.
 */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once('finish', () => {
      const status = res.statusCode;
      logger[status >= 500 ? 'error' : 'info'](
        {
          request_id: String(req.headers['x-request-id']),
          req: { method: req.method, url: req.originalUrl },
          res: { status },
          responseTime: Math.round((performance.now() - started) * 10) / 10,
        },
        'request completed',
      );
    });
    next();
  };
}
