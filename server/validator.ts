import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AjvOptions } from 'express-openapi-validator/dist/framework/ajv/options.js';
import { defaultSerDes } from 'express-openapi-validator/dist/framework/base.serdes.js';
import { OpenApiContext } from 'express-openapi-validator/dist/framework/openapi.context.js';
import { OpenApiSpecLoader } from 'express-openapi-validator/dist/framework/openapi.spec.loader.js';
import { BadRequest, MethodNotAllowed, NotFound, type NormalizedOpenApiValidatorOpts, type OpenAPIV3 } from 'express-openapi-validator/dist/framework/types.js';
import { RequestValidator } from 'express-openapi-validator/dist/middlewares/openapi.request.validator.js';
import { ResponseValidator } from 'express-openapi-validator/dist/middlewares/openapi.response.validator.js';
import { SchemaPreprocessor } from 'express-openapi-validator/dist/middlewares/parsers/schema.preprocessor.js';
import { pathToRegexp } from 'path-to-regexp';

// express-openapi-validator stays the contract's enforcer (its spec loader, ajv request and
// response validators, security check and error types), assembled from its own parts so that the
// hot path is cheap (docs/performance.md §1):
// - its metadata step compiles a path-to-regexp for EVERY route of the spec on EVERY request and
//   walks them until one matches; here each route is compiled once, at start-up, into one table;
// - each of its five middlewares awaits the spec promise on every request (a microtask hop each);
//   here the chain runs synchronously once compiled;
// - it installs multer for multipart bodies the contract does not have;
// - it validates openapi.yaml against the OpenAPI meta-schema at every start (a third of start-up
//   CPU); the tests do that (validateSpec), a shipped build trusts its own contract.
// Compilation is lazy and can be started early with warm() (right after listen).

type Doc = OpenAPIV3.DocumentV3 | OpenAPIV3.DocumentV3_1;

export interface ContractOptions {
  /** Validate every response against the contract (tests: a violation reaches onResponseError). */
  validateResponses?: boolean;
  onResponseError?: (err: unknown) => void;
  /** Check the document itself against the OpenAPI schema at compile time (tests). */
  validateSpec?: boolean;
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
  routes: Route[];
  chain: RequestHandler[];
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
  // The option defaults express-openapi-validator's constructor would apply (normalizeOptions).
  const options = {
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
  const ajvOpts = new AjvOptions(options);

  let compiled: Compiled | undefined;
  let compiling: Promise<Compiled> | undefined;
  const compile = () =>
    (compiling ??= (async () => {
      // The loader resolves $refs in place: it gets its own copy of the parsed document.
      const loaded = await new OpenApiSpecLoader({ apiDoc: structuredClone(spec) as Doc, validateApiSpec: options.validateApiSpec, $refParser: options.$refParser }).load();
      const { apiDocRes } = new SchemaPreprocessor(loaded.apiDoc, ajvOpts.preprocessor, options.validateResponses as never).preProcess();
      const context = new OpenApiContext(loaded, undefined as never, false, false);
      const chain: RequestHandler[] = [];
      // No security check here: the bearer scheme is documented for clients, and server/access.ts
      // (SPEC §10) authenticates and authorises before this chain runs.
      const requests = new RequestValidator(loaded.apiDoc, ajvOpts.request);
      chain.push((req, res, next) => requests.validate(req as never, res, next));
      if (options.validateResponses && apiDocRes) {
        chain.push(new ResponseValidator(apiDocRes, ajvOpts.response, options.validateResponses, context.serial).validate());
      }
      compiled = { context, routes: routeTable(loaded.routes, loaded.apiDoc, apiDocRes), chain };
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
  for (const route of c.routes) {
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
