import { expect } from 'chai';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { defaultSerDes } from 'express-openapi-validator/dist/framework/base.serdes.js';
import { readContract, readPreparedContract, validatorVersion } from '../../server/spec.js';
import { createContract, decodeGraph, encodeGraph, prepareContract, type PreparedContract } from '../../server/validator.js';

// The build prepares the contract (dist/openapi.validator.json) so that start-up skips
// json-schema-ref-parser and the SchemaPreprocessor; the validator must answer exactly as when it
// prepares the contract itself at run time.

describe('unit: the contract prepared at build time', () => {
  it('is written by the build, current, and what the run-time path would prepare', async () => {
    const prepared = readPreparedContract();
    expect(prepared, 'dist/openapi.validator.json (npm run build)').to.not.equal(undefined);
    const fresh = JSON.parse(JSON.stringify(await prepareContract(readContract(), validatorVersion()))) as PreparedContract;
    expect(fresh).to.deep.equal(prepared);
  });

  it('is ignored once the validator is compiled again without it (a build with tsc alone)', () => {
    const compiled = fileURLToPath(new URL('../../server/validator.js', import.meta.url));
    const { atime, mtime } = fs.statSync(compiled);
    try {
      fs.utimesSync(compiled, atime, new Date(Date.now() + 60_000));
      expect(readPreparedContract()).to.equal(undefined);
    } finally {
      fs.utimesSync(compiled, atime, mtime);
    }
    expect(readPreparedContract()).to.not.equal(undefined);
  });

  it('keeps a graph as a graph: shared objects, cycles and serialisers come back as they were', () => {
    const serializer = defaultSerDes[1]!;
    const shared: Record<string, unknown> = { type: 'string', 'x-eov-res-serdes': serializer };
    const cyclic: Record<string, unknown> = { name: 'loop', list: [1, 'two', null, true] };
    cyclic.self = cyclic;
    const root = { a: shared, b: [shared, { c: shared }], cyclic, '200': 'status-like key' };
    const encoded = JSON.parse(JSON.stringify(encodeGraph(root, new Map([[serializer, serializer.format]]))));
    const back = decodeGraph(encoded, new Map([[serializer.format, serializer]])) as typeof root & { b: [unknown, { c: unknown }]; cyclic: { self: unknown } };
    expect(back).to.deep.equal(root);
    expect(back.b[0]).to.equal(back.a);
    expect(back.b[1].c).to.equal(back.a);
    expect(back.cyclic.self).to.equal(back.cyclic);
    expect((back.a as Record<string, unknown>)['x-eov-res-serdes']).to.equal(serializer);
    expect(Object.keys(back)).to.deep.equal(Object.keys(root));
  });

  it('validates requests exactly as the contract prepared at run time', async () => {
    const spec = readContract();
    const prepared = readPreparedContract()!;
    const apps = [createContract(spec), createContract(spec, { prepared })].map((contract) => {
      const app = express();
      app.use(express.json());
      app.use(contract.middleware);
      app.use((req: Request, res: Response) => {
        res.json({ passed: true, params: req.params, query: req.query, body: req.body as unknown });
      });
      app.use((err: { status?: number; message?: string; errors?: unknown; headers?: unknown }, _req: Request, res: Response, _next: NextFunction) => {
        res.status(err.status ?? 500).json({ message: err.message, errors: err.errors, headers: err.headers });
      });
      return app;
    });
    const servers = await Promise.all(apps.map((app) => new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    })));
    try {
      const requests: [string, string, unknown?][] = [
        ['GET', '/api/v1/sizes'],
        ['GET', '/api/v1/sizes?bogus=1'],
        ['GET', '/api/v1/vms?limit=5&status=running'],
        ['GET', '/api/v1/vms?limit=0'],
        ['GET', '/api/v1/vms?limit=abc&status=nope'],
        ['GET', '/api/v1/vms/%E0%A4%A'],
        ['GET', '/api/v1/vms/vm_123'],
        ['DELETE', '/api/v1/sizes'],
        ['GET', '/api/v1/nowhere'],
        ['POST', '/api/v1/environments', { name: 'x', unknown: 1 }],
        ['POST', '/api/v1/environments', { name: 'ok', cidr: '10.0.0.0/16' }],
        ['POST', '/api/v1/environments', { name: 5, cidr: [] }],
        ['POST', '/api/v1/vms', { name: 'a', environment_id: 'env_1', size: 'huge', image: 'debian-12', tags: { k: 1 } }],
        ['POST', '/api/v1/vms', {}],
        ['POST', '/api/v1/vms', []],
      ];
      const statuses = new Set<number>();
      for (const [method, path, body] of requests) {
        const answers = await Promise.all(
          servers.map(async (s) => {
            const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}${path}`, {
              method,
              headers: body === undefined ? {} : { 'content-type': 'application/json' },
              body: body === undefined ? undefined : JSON.stringify(body),
            });
            return { status: res.status, allow: res.headers.get('allow'), body: await res.text() };
          }),
        );
        expect(answers[1], `${method} ${path}`).to.deep.equal(answers[0]);
        statuses.add(answers[0]!.status);
      }
      expect([...statuses].sort()).to.deep.equal([200, 400, 404, 405]);
    } finally {
      for (const s of servers) s.close();
    }
  });
});
