import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  idempotencyKey?: string;
  authorization?: string;
  status?: number;
  body?: any;
  dropped: boolean;
}

/**
 * A reverse proxy in front of the API that can lose a response: the request reaches the server and
 * takes effect, then the client's connection is cut before it sees the answer — the failure an
 * Idempotency-Key exists for.
 */
export async function startDroppingProxy(target: string, shouldDrop: (req: { method: string; path: string }, nth: number) => boolean) {
  const seen: SeenRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
    const upstream = await fetch(target + path, { method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    const text = await upstream.text();
    const entry: SeenRequest = { method, path, idempotencyKey: headers['idempotency-key'], authorization: headers.authorization, status: upstream.status, dropped: false };
    try {
      entry.body = text ? JSON.parse(text) : undefined;
    } catch {
      entry.body = text;
    }
    seen.push(entry);
    if (shouldDrop({ method, path }, seen.filter((s) => s.method === method && s.path === path).length)) {
      entry.dropped = true;
      req.socket.destroy();
      return;
    }
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
    });
    res.writeHead(upstream.status, out).end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
