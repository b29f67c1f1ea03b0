export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** A small client for API tests: JSON in, parsed JSON (or problem) out. */
export function client(baseUrl: string) {
  const call = async <T = any>(method: string, path: string, opts: RequestOptions = {}): Promise<Reply<T>> => {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text && /json/.test(res.headers.get('content-type') ?? '')) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };
  return {
    call,
    get: <T = any>(path: string, opts?: RequestOptions) => call<T>('GET', path, opts),
    post: <T = any>(path: string, body?: unknown, opts?: RequestOptions) => call<T>('POST', path, { ...opts, body }),
    patch: <T = any>(path: string, body?: unknown, opts?: RequestOptions) =>
      call<T>('PATCH', path, { contentType: 'application/merge-patch+json', ...opts, body }),
    del: <T = any>(path: string, opts?: RequestOptions) => call<T>('DELETE', path, opts),
  };
}

export type Client = ReturnType<typeof client>;

let counter = 0;
/** Unique names so tests on a shared database never collide. */
export const uniq = (prefix = 't') => `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
