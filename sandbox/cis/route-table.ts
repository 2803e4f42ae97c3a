import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a handler answers; the pipeline writes it, which is how a fault can swallow it after the write. */
export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A refusal thrown by a handler or a pre-step, already in the area's wire shape. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** Builds the area's error body for failures the pipeline makes itself (faults, unknown routes, bad bodies). */
export type FailureRenderer = (failure: {
  status: number;
  code?: string;
  message: string;
  correlationId: string;
}) => unknown;

/** Facts the front door learns about a request and the route handlers need later. */
export interface RequestContext {
  /** Route pattern label as counted in stats, e.g. `GET /channels/:channelId/markets`. */
  route: string;
  /** The area the route belongs to; undefined for a path no area serves. */
  area: RouteArea | undefined;
  correlationId: string;
  /** Set by a `dropAfterCommit` fault: the handler runs, then the socket is cut instead of answering. */
  dropAfterCommit: boolean;
}

const contexts = new WeakMap<Request, RequestContext>();

export function setRequestContext(req: Request, context: RequestContext): void {
  contexts.set(req, context);
}

export function requestContext(req: Request): RequestContext | undefined {
  return contexts.get(req);
}

/** Writes a reply, unless the request is marked to be dropped after its write committed. */
export function deliver(req: Request, res: Response, reply: Reply): void {
  if (requestContext(req)?.dropAfterCommit) {
    req.socket.destroy();
    return;
  }
  res.status(reply.status ?? 200);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.body === undefined) res.end();
  // A body serialised already (a cached page) goes out as it is.
  else if (Buffer.isBuffer(reply.body)) res.type('application/json; charset=utf-8').send(reply.body);
  else res.json(reply.body);
}

/** What the front door needs from an area: labelling requests and rendering its own failures. */
export interface RouteArea {
  readonly name: string;
  match(method: string, path: string): string | undefined;
  renderFailure(failure: Parameters<FailureRenderer>[0]): unknown;
}

interface RouteEntry {
  method: HttpMethod;
  pattern: string;
  regex: RegExp;
}

export interface RouteTableOptions<C> {
  /** Runs before every handler of the area (authentication, channel check, rate limit); may throw HttpFailure. */
  prepare: (req: Request) => C | Promise<C>;
  renderFailure: FailureRenderer;
  /** Body parser of the area's routes. */
  bodyParser: RequestHandler;
}

/**
 * The routes of one area (identity provider, API), mounted on its own express router. It knows its
 * patterns so the front door can label a request for stats and faults before express routes it, and it
 * writes every reply itself so a fault can cut the connection after the handler's write.
 */
export class RouteTable<C> implements RouteArea {
  readonly router = express.Router();
  private readonly routes: RouteEntry[] = [];

  constructor(
    readonly name: string,
    private readonly options: RouteTableOptions<C>,
  ) {}

  add(
    method: HttpMethod,
    pattern: string,
    handler: (req: Request, caller: C) => Reply | Promise<Reply>,
  ): this {
    this.routes.push({ method, pattern, regex: patternToRegex(pattern) });
    const run = async (req: Request, res: Response): Promise<void> => {
      const caller = await this.options.prepare(req);
      deliver(req, res, await handler(req, caller));
    };
    this.router[lowerMethod(method)](pattern, this.options.bodyParser, (req, res, next) => {
      run(req, res).catch(next);
    });
    return this;
  }

  /** The stats label of the route a request would reach here, if any. */
  match(method: string, path: string): string | undefined {
    const entry = this.routes.find((r) => r.method === method && r.regex.test(path));
    return entry ? `${entry.method} ${entry.pattern}` : undefined;
  }

  renderFailure(failure: Parameters<FailureRenderer>[0]): unknown {
    return this.options.renderFailure(failure);
  }

  /** Error middleware for the area: thrown HttpFailures as they are, body-parser errors as 400, others 500. */
  errorHandler(): (err: unknown, req: Request, res: Response, next: NextFunction) => void {
    return (err, req, res, next) => {
      if (res.headersSent) {
        next(err);
        return;
      }
      const correlationId = requestContext(req)?.correlationId ?? '';
      if (err instanceof HttpFailure) {
        deliver(req, res, { status: err.status, body: err.body, headers: err.headers });
      } else if (isClientError(err)) {
        deliver(req, res, {
          status: 400,
          body: this.renderFailure({
            status: 400,
            message: 'The request body could not be read.',
            correlationId,
          }),
        });
      } else {
        deliver(req, res, {
          status: 500,
          body: this.renderFailure({
            status: 500,
            message: 'The sandbox failed unexpectedly.',
            correlationId,
          }),
        });
      }
    };
  }
}

function patternToRegex(pattern: string): RegExp {
  const source = pattern
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  // Like express's defaults: case-insensitive, a trailing slash tolerated.
  return new RegExp(`^${source}/?$`, 'i');
}

function lowerMethod(method: HttpMethod): 'get' | 'post' | 'put' | 'patch' | 'delete' {
  switch (method) {
    case 'GET':
      return 'get';
    case 'POST':
      return 'post';
    case 'PUT':
      return 'put';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
  }
}

function isClientError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('status' in err)) return false;
  const status = err.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
