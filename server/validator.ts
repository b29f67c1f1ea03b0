import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AjvOptions } from 'express-openapi-validator/dist/framework/ajv/options.js';
import { defaultSerDes } from 'express-openapi-validator/dist/framework/base.serdes.js';
import { OpenApiContext } from 'express-openapi-validator/dist/framework/openapi.context.js';
import { BadRequest, MethodNotAllowed, NotFound, type NormalizedOpenApiValidatorOpts, type OpenAPIV3 } from 'express-openapi-validator/dist/framework/types.js';
import { RequestValidator } from 'express-openapi-validator/dist/middlewares/openapi.request.validator.js';
import { ResponseValidator } from 'express-openapi-validator/dist/middlewares/openapi.response.validator.js';
import { pathToRegexp } from 'path-to-regexp';

// express-openapi-validator stays the contract's enforcer (its spec loader, ajv request and
// response validators, security check and error types), assembled from its own parts so that the
// hot path is cheap (docs/performance.md, "what changed"):
// - its metadata step compiles a path-to-regexp for EVERY route of the spec on EVERY request and
//   walks them until one matches; here each route is compiled once, at start-up, into one table;
// - each of its five middlewares awaits the spec promise on every request (a microtask hop each);
//   here the chain runs synchronously once compiled;
// - it installs multer for multipart bodies the contract does not have;
// - it validates openapi.yaml against the OpenAPI meta-schema at every start (a third of start-up
//   CPU); the tests do that (validateSpec), a shipped build trusts its own contract.
// - the deterministic part of compiling — resolving $refs (json-schema-ref-parser) and the
//   validator's SchemaPreprocessor, which compiles every component schema through ajv to do it —
//   runs at BUILD time (prepareContract, written to dist/openapi.validator.json by
//   scripts/openapi-json.mjs); at run time the RequestValidator starts from that document, and
//   compiles each route's ajv validator on the route's first request, as it always did. Those two
//   steps were ~40 % of the CPU spent before the first API answer. Without the prepared file (an
//   edit without a build, a test's own spec) the same two steps run here instead.
// Compilation is lazy and can be started early with warm() (right after listen).

type Doc = OpenAPIV3.DocumentV3 | OpenAPIV3.DocumentV3_1;

export interface ContractOptions {
  /** Validate every response against the contract (tests: a violation reaches onResponseError). */
  validateResponses?: boolean;
  onResponseError?: (err: unknown) => void;
  /** Check the document itself against the OpenAPI schema at compile time (tests). */
  validateSpec?: boolean;
  /** prepareContract's output for this same spec (server/spec.ts readPreparedContract). */
  prepared?: PreparedContract;
}

/** The loaded and preprocessed contract as JSON (see encodeGraph), made at build time. */
export interface PreparedContract {
  /** express-openapi-validator's version: its preprocessing is what is stored. */
  eov: string;
  basePaths: string[];
  routes: LoadedRoute[];
  apiDoc: EncodedGraph;
  /** The response validator's copy (tests validate responses). */
  apiDocRes: EncodedGraph;
  /** Whether any $ref points into #/paths (see compile: the request validator needs paths then). */
  refsIntoPaths: boolean;
}

interface LoadedRoute {
  expressRoute: string;
  openApiRoute: string;
  basePath: string;
  method: string;
  pathParams: string[];
}

interface Route {
  regexp: RegExp;
  keys: string[];
  expressRoute: string;
  openApiRoute: string;
  /** Upper-case method → the operation as the validator resolved it (and its response copy). */
  methods: Map<string, { schema: OpenAPIV3.OperationObject; responseSchema?: OpenAPIV3.OperationObject }>;
}

interface Compiled {
  context: OpenApiContext;
  routes: RouteIndex;
  chain: RequestHandler[];
}

/**
 * The route table by its first three path segments (`/api/v1/vms`), lower-cased as the routes match
 * case-insensitively: a request tries the few routes of its collection, in table order, then the
 * routes with a parameter among those segments. Walking every route's regexp was 5 % of a GET.
 */
interface RouteIndex {
  byPrefix: Map<string, Route[]>;
  loose: Route[];
}

const prefixOf = (path: string) => path.split('/', 4).join('/').toLowerCase();

function indexRoutes(routes: Route[]): RouteIndex {
  const index: RouteIndex = { byPrefix: new Map(), loose: [] };
  for (const route of routes) {
    const prefix = prefixOf(route.expressRoute);
    if (prefix.includes(':') || prefix.includes('*') || prefix.includes('(')) index.loose.push(route);
    else index.byPrefix.set(prefix, [...(index.byPrefix.get(prefix) ?? []), route]);
  }
  // Each collection's list ends with the loose routes, so a lookup is one Map get.
  for (const [prefix, list] of index.byPrefix) index.byPrefix.set(prefix, [...list, ...index.loose]);
  return index;
}

export interface Contract {
  /** The middleware: resolves the operation once, then validates the request (and the response). */
  middleware: RequestHandler;
  /** Compiles the contract now; resolves when done. Idempotent. */
  warm(): Promise<void>;
  /** True once compiled: requests no longer wait for it. */
  readonly compiled: boolean;
}

export function createContract(spec: object, opts: ContractOptions = {}): Contract {
  const options = validatorOptions(spec, opts);
  const ajvOpts = new AjvOptions(options);

  let compiled: Compiled | undefined;
  let compiling: Promise<Compiled> | undefined;
  const compile = () =>
    (compiling ??= (async () => {
      let loaded: { apiDoc: Doc; basePaths: string[]; routes: LoadedRoute[]; serial: number };
      let apiDocRes: Doc | undefined;
      if (opts.prepared) {
        if (options.validateApiSpec) await checkSpec(spec);
        const serDes = new Map(Object.values(ajvOpts.preprocessor.serDesMap as Record<string, object>).map((s) => [(s as { format: string }).format, s]));
        loaded = { apiDoc: decodeGraph(opts.prepared.apiDoc, serDes) as Doc, basePaths: opts.prepared.basePaths, routes: opts.prepared.routes, serial: 1 };
        if (options.validateResponses) apiDocRes = decodeGraph(opts.prepared.apiDocRes, serDes) as Doc;
      } else {
        ({ loaded, apiDocRes } = await loadAndPreprocess(spec, options, ajvOpts));
      }
      const context = new OpenApiContext(loaded as never, undefined as never, false, false);
      const chain: RequestHandler[] = [];
      // No security check here: the bearer scheme is documented for clients, and server/access.ts
      // (SPEC §10) authenticates and authorises before this chain runs.
      // The RequestValidator puts the document's `paths` and `components` into every route's schema
      // only so that $refs resolve, and ajv walks that whole schema when it compiles a route (twice:
      // parameters, body). `paths`, the resolved operations, is 95 % of it: 15,000 nodes, 45 ms of
      // the first request. When nothing refers into #/paths (checked at build time) the validator
      // gets the document without them; the operations themselves come from the route table.
      const requestDoc = opts.prepared && !opts.prepared.refsIntoPaths ? ({ ...loaded.apiDoc, paths: {} } as Doc) : loaded.apiDoc;
      const requests = new RequestValidator(requestDoc, ajvOpts.request);
      chain.push((req, res, next) => requests.validate(req as never, res, next));
      if (options.validateResponses && apiDocRes) {
        chain.push(new ResponseValidator(apiDocRes, ajvOpts.response, options.validateResponses, context.serial).validate());
      }
      compiled = { context, routes: indexRoutes(routeTable(loaded.routes, loaded.apiDoc, apiDocRes)), chain };
      return compiled;
    })());

  const run = (c: Compiled, req: Request, res: Response, next: NextFunction) => {
    if (!resolve(c, req)) return next();
    // The chain's members call next() synchronously or throw: run them in order without Express.
    let i = 0;
    const step = (err?: unknown) => {
      if (err) return next(err);
      const mw = c.chain[i++];
      if (!mw) return next();
      try {
        mw(req, res, step);
      } catch (e) {
        next(e);
      }
    };
    step();
  };

  return {
    middleware(req, res, next) {
      if (compiled) return run(compiled, req, res, next);
      compile()
        .then((c) => run(c, req, res, next))
        .catch(next);
    },
    async warm() {
      await compile();
    },
    get compiled() {
      return compiled !== undefined;
    },
  };
}

/** The option defaults express-openapi-validator's constructor would apply (normalizeOptions). */
function validatorOptions(spec: object, opts: ContractOptions): NormalizedOpenApiValidatorOpts {
  return {
    apiSpec: spec as Doc,
    validateApiSpec: !!opts.validateSpec,
    validateRequests: { allowUnknownQueryParameters: false, coerceTypes: false },
    validateResponses: opts.validateResponses ? { onError: (err: unknown) => (opts.onResponseError ?? rethrow)(err) } : false,
    // The bearer scheme is documented for clients; server/access.ts does the checking.
    validateSecurity: false,
    validateFormats: true,
    ajvFormats: { mode: 'fast' },
    formats: {},
    serDes: defaultSerDes,
    fileUploader: false,
    $refParser: { mode: 'bundle' },
    useRequestUrl: false,
  } as unknown as NormalizedOpenApiValidatorOpts;
}

// The loader (json-schema-ref-parser, js-yaml), the preprocessor and the meta-schema check are
// imported only when used: with a prepared contract, never at run time (a sixth of the bundle).

/** express-openapi-validator's own load (json-schema-ref-parser) and SchemaPreprocessor steps. */
async function loadAndPreprocess(spec: object, options: NormalizedOpenApiValidatorOpts, ajvOpts: AjvOptions) {
  const { OpenApiSpecLoader } = await import('express-openapi-validator/dist/framework/openapi.spec.loader.js');
  const { SchemaPreprocessor } = await import('express-openapi-validator/dist/middlewares/parsers/schema.preprocessor.js');
  // The loader resolves $refs in place: it gets its own copy of the parsed document.
  const loaded = await new OpenApiSpecLoader({ apiDoc: structuredClone(spec) as Doc, validateApiSpec: options.validateApiSpec, $refParser: options.$refParser }).load();
  const { apiDocRes } = new SchemaPreprocessor(loaded.apiDoc, ajvOpts.preprocessor, options.validateResponses as never).preProcess();
  return { loaded: loaded as typeof loaded & { routes: LoadedRoute[] }, apiDocRes: apiDocRes ?? undefined };
}

/** The meta-schema check the loader makes when asked (validateSpec), for the prepared path. */
async function checkSpec(spec: object): Promise<void> {
  const { OpenAPISchemaValidator } = await import('express-openapi-validator/dist/framework/openapi.schema.validator.js');
  const doc = spec as Doc;
  const { errors } = new OpenAPISchemaValidator({ version: doc.openapi, validateApiSpec: true }).validate(doc);
  if (errors?.length) throw new Error(`openapi.validator: args.apiDoc was invalid: ${JSON.stringify(errors)}`);
}

/**
 * Build time (scripts/openapi-json.mjs): the contract loaded and preprocessed as the run-time path
 * would do it, checked against the OpenAPI meta-schema, as JSON. Response copy included, so tests
 * that validate responses use the prepared path too.
 */
export async function prepareContract(spec: object, eovVersion: string): Promise<PreparedContract> {
  const options = validatorOptions(spec, { validateSpec: true, validateResponses: true });
  const ajvOpts = new AjvOptions(options);
  const { loaded, apiDocRes } = await loadAndPreprocess(spec, options, ajvOpts);
  // A discriminator makes the preprocessor attach compiled validators to the document (not JSON).
  if (JSON.stringify(spec).includes('"discriminator"')) throw new Error('prepareContract: discriminators are not supported; the run-time path handles them');
  const serDes = new Map(Object.values(ajvOpts.preprocessor.serDesMap as Record<string, object>).map((s) => [s, (s as { format: string }).format]));
  const apiDoc = encodeGraph(loaded.apiDoc, serDes);
  const res = encodeGraph(apiDocRes, serDes);
  const refsIntoPaths = /"\$ref":"#\/paths/.test(JSON.stringify(apiDoc));
  return { eov: eovVersion, basePaths: loaded.basePaths, routes: loaded.routes, apiDoc, apiDocRes: res, refsIntoPaths };
}

/**
 * The preprocessed document is a graph, not a tree: each resolved $ref is the one object shared
 * by every place that referred to it (ajv caches compiled schemas by object identity), and the
 * serialisers it attaches hold functions. As JSON: every object reached more than once is written
 * once in `shared` and referred to as {"$eov:shared": i}; serialisers as {"$eov:serdes": format}.
 */
export interface EncodedGraph {
  root: unknown;
  shared: unknown[];
}

const SHARED = '$eov:shared';
const SERDES = '$eov:serdes';

export function encodeGraph(root: unknown, serDes: Map<object, string> = new Map()): EncodedGraph {
  const visits = new Map<object, number>();
  const count = (v: unknown) => {
    if (v === null || typeof v !== 'object' || serDes.has(v)) return;
    const n = visits.get(v);
    visits.set(v, (n ?? 0) + 1);
    if (n !== undefined) return;
    for (const x of Array.isArray(v) ? v : Object.values(v)) count(x);
  };
  count(root);
  const index = new Map<object, number>();
  for (const [v, n] of visits) if (n > 1) index.set(v, index.size);
  const shared: unknown[] = new Array(index.size);
  const body = (v: object): unknown => {
    if (Array.isArray(v)) return v.map(encode);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === 'function') throw new Error(`encodeGraph: a function at ${k}`);
      out[k] = encode(x);
    }
    return out;
  };
  const encode = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    const format = serDes.get(v);
    if (format !== undefined) return { [SERDES]: format };
    const i = index.get(v);
    if (i === undefined) return body(v);
    if (!(i in shared)) {
      shared[i] = null; // claimed before recursing: a cycle back to it is a reference
      shared[i] = body(v);
    }
    return { [SHARED]: i };
  };
  return { root: encode(root), shared };
}

export function decodeGraph(g: EncodedGraph, serDes: Map<string, object> = new Map()): unknown {
  const objects = g.shared.map((x) => (Array.isArray(x) ? [] : {}));
  const decode = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(decode);
    const o = v as Record<string, unknown>;
    if (SHARED in o) return objects[o[SHARED] as number];
    if (SERDES in o) {
      const s = serDes.get(o[SERDES] as string);
      if (!s) throw new Error(`decodeGraph: no serialiser for format ${String(o[SERDES])}`);
      return s;
    }
    return fill({}, o);
  };
  const fill = (target: Record<string, unknown> | unknown[], src: unknown) => {
    if (Array.isArray(src)) for (const x of src) (target as unknown[]).push(decode(x));
    else for (const [k, x] of Object.entries(src as object)) (target as Record<string, unknown>)[k] = decode(x);
    return target;
  };
  g.shared.forEach((x, i) => fill(objects[i]!, x));
  return decode(g.root);
}

const rethrow = (err: unknown) => {
  throw err;
};

function routeTable(routes: { expressRoute: string; openApiRoute: string; basePath: string; method: string }[], apiDoc: Doc, apiDocRes: Doc | undefined): Route[] {
  // Routes arrive sorted most specific first (static segments before parameters), as the
  // validator's own lookup walks them; one entry per path, each with its methods.
  const byPath = new Map<string, Route>();
  for (const r of routes) {
    let route = byPath.get(r.expressRoute);
    if (!route) {
      const { regexp, keys } = pathToRegexp(r.expressRoute, { sensitive: false });
      route = { regexp, keys: keys.map((k) => k.name), expressRoute: r.expressRoute, openApiRoute: r.openApiRoute, methods: new Map() };
      byPath.set(r.expressRoute, route);
    }
    const pathKey = r.openApiRoute.substring(r.basePath.length);
    const method = r.method.toLowerCase() as 'get';
    route.methods.set(r.method, { schema: apiDoc.paths![pathKey]![method]!, responseSchema: apiDocRes?.paths?.[pathKey]?.[method] });
  }
  return [...byPath.values()];
}

/** Sets req.openapi as the validator's metadata step would; false when the request is not the contract's. */
function resolve(c: Compiled, req: Request): boolean {
  const path = req.originalUrl.split('?')[0]!;
  for (const route of c.routes.byPrefix.get(prefixOf(path)) ?? c.routes.loose) {
    const m = route.regexp.exec(path);
    if (!m) continue;
    const op = route.methods.get(req.method);
    if (!op) {
      throw new MethodNotAllowed({ path: req.path, message: `${req.method} method not allowed`, headers: { Allow: [...route.methods.keys()].join(', ') } });
    }
    const pathParams: Record<string, string> = {};
    try {
      for (let k = 0; k < route.keys.length; k++) pathParams[route.keys[k]!] = decodeURIComponent(m[k + 1]!);
    } catch {
      throw new BadRequest({ path: req.path, message: "malformed uri'" });
    }
    (req as Request & { openapi?: unknown }).openapi = {
      expressRoute: route.expressRoute,
      openApiRoute: route.openApiRoute,
      pathParams,
      schema: op.schema,
      serial: c.context.serial,
      _responseSchema: op.responseSchema,
    };
    req.params = pathParams;
    return true;
  }
  if (c.context.isManagedRoute(path)) throw new NotFound({ path: req.path, message: 'not found' });
  return false;
}
