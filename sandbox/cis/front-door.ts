import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NextFunction, Request, Response } from 'express';
import type { FaultInjector } from './fault-injector';
import { deliver, setRequestContext, type RouteArea } from './route-table';
import type { SandboxState } from './sandbox-state';

/** The body a `malformed` fault answers with: JSON cut off in the middle. */
export const MALFORMED_BODY = '{"items":[{"country":"GR","currency":"EU';

export interface FrontDoorDeps {
  state: SandboxState;
  faults: FaultInjector;
  /** Areas in the order they are mounted; the last one renders failures for paths no area serves. */
  areas: RouteArea[];
  /** Aborted on shutdown, so delayed requests stop waiting. */
  shutdown: AbortSignal;
  log?: (line: string) => void;
}

/**
 * Everything every API and identity-provider request goes through before routing (controls never do):
 * its route label and correlation id, the call count, the configured latency, then the first fault that
 * fires. A fault that holds or answers stops the request here; `dropAfterCommit` marks it for the
 * pipeline, which cuts the connection once the handler has done its write.
 */
export function createFrontDoor(deps: FrontDoorDeps) {
  return (req: Request, res: Response, next: NextFunction): void => {
    handle(deps, req, res, next).catch(next);
  };
}

async function handle(deps: FrontDoorDeps, req: Request, res: Response, next: NextFunction): Promise<void> {
  const { state, faults } = deps;
  const started = Date.now();
  let route = `${req.method} (unmatched)`;
  let area: RouteArea | undefined;
  for (const candidate of deps.areas) {
    const label = candidate.match(req.method, req.path);
    if (label) {
      route = label;
      area = candidate;
      break;
    }
  }
  const correlationId = headerValue(req, 'ms-correlationid') ?? randomUUID();
  const context = { route, area, correlationId, dropAfterCommit: false };
  setRequestContext(req, context);
  res.setHeader('MS-CorrelationId', correlationId);
  state.countCall(route);
  if (deps.log) {
    const log = deps.log;
    // Method, path and status only: no query, no headers, no body (tokens and assertions travel there).
    res.on('finish', () => log(`${req.method} ${req.path} ${res.statusCode} ${Date.now() - started}ms`));
  }

  const fault = faults.pick(req.method, req.path);
  const latencyMs = state.config.latencyMs + (fault?.latencyMs ?? 0);
  if (latencyMs > 0) {
    try {
      await sleep(latencyMs, undefined, { signal: deps.shutdown });
    } catch {
      req.socket.destroy();
      return;
    }
  }
  if (!fault) {
    next();
    return;
  }
  if (fault.timeout) {
    faults.hold(req, res);
    return;
  }
  if (fault.malformed) {
    res.status(200).type('application/json').send(MALFORMED_BODY);
    return;
  }
  const status = fault.status ?? (fault.retryAfter !== undefined ? 429 : undefined);
  if (status !== undefined) {
    const renderer = area ?? deps.areas[deps.areas.length - 1];
    const headers: Record<string, string> =
      fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
    deliver(req, res, {
      status,
      headers,
      body: renderer.renderFailure({ status, code: fault.code, message: 'Injected fault.', correlationId }),
    });
    return;
  }
  if (fault.dropAfterCommit) context.dropAfterCommit = true;
  next();
}

function headerValue(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.length <= 200 ? first : undefined;
}
