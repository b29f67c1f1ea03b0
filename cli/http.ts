import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

// The CLI's transport: node:http rather than undici. undici parses HTTP with a WebAssembly module
// whose background optimisation V8 finishes before the process may exit — 0.1–0.6 s of idle after
// the output on every call — and it is the largest module the CLI would load. node:http parses in
// C++ and its idle keep-alive sockets do not hold the process open.

export interface SendOptions {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/** Resolves with the response once its headers arrive; the body is the caller's to read. */
export function send(url: string, opts: SendOptions): Promise<IncomingMessage> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const headers = opts.body !== undefined ? { ...opts.headers, 'content-length': String(Buffer.byteLength(opts.body)) } : opts.headers;
  return new Promise((resolve, reject) => {
    const req = transport.request(target, { method: opts.method, headers, signal: opts.signal }, resolve);
    req.once('error', reject);
    req.end(opts.body);
  });
}

export async function readText(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}

/** Closes idle keep-alive sockets, so nothing outlives the command (they are unref'd anyway). */
export function closeConnections(): void {
  http.globalAgent.destroy();
  https.globalAgent.destroy();
}
