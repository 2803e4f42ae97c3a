import type { Request, Response } from 'express';

/**
 * A fault as `POST /__sandbox/faults` takes it (host-contract.md §6). `path` is a regular expression
 * searched in the URL path (no query string); `retryAfter` without `status` means 429.
 */
export interface FaultSpec {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Regular expression searched in the URL path. */
  path: string;
  /** Answer this status (with the area's error body) instead of running the handler; nothing is written. */
  status?: number;
  /** Vendor error code of a `status` fault's body (default derived from the status). */
  code?: string;
  /** Delay before the request goes on (to the handler, or to the fault's other effect). */
  latencyMs?: number;
  /** Hold the request without answering until the client gives up (or 120 s pass); nothing is written. */
  timeout?: boolean;
  /** Run the handler (its write commits), then cut the connection without an answer. */
  dropAfterCommit?: boolean;
  /** Answer 200 with broken JSON; nothing is written. */
  malformed?: boolean;
  /** Seconds for the `Retry-After` header; alone it means a 429. */
  retryAfter?: number;
  /** Stop after this many firings (unlimited when absent). */
  times?: number;
  /** Probability that a matching request fires the fault (1 when absent). */
  rate?: number;
}

/** A registered fault, with its id and how often it has fired. */
export interface ActiveFault extends FaultSpec {
  id: number;
  fired: number;
}

/** How long a `timeout` fault holds a request whose client never gives up. */
export const HOLD_LIMIT_MS = 120_000;

/**
 * The faults tests inject, in the order added: the first one that matches and fires wins. It also keeps
 * the requests a `timeout` fault holds, so they are let go when the client disconnects, after
 * {@link HOLD_LIMIT_MS}, or when the sandbox resets or closes.
 */
export class FaultInjector {
  private faults: (ActiveFault & { regex: RegExp })[] = [];
  private nextId = 1;
  private readonly held = new Map<() => void, Request>();

  add(spec: FaultSpec): ActiveFault {
    const fault = { ...spec, method: spec.method?.toUpperCase(), id: this.nextId++, fired: 0 };
    this.faults.push({ ...fault, regex: new RegExp(spec.path) });
    return fault;
  }

  list(): ActiveFault[] {
    return this.faults.map(({ regex: _regex, ...fault }) => fault);
  }

  clear(): void {
    this.faults = [];
  }

  /** The first fault that matches the request and fires (its `rate` rolled), counting the firing. */
  pick(method: string, path: string): ActiveFault | undefined {
    for (const fault of this.faults) {
      if (fault.method && fault.method !== method) continue;
      if (!fault.regex.test(path)) continue;
      if (fault.rate !== undefined && Math.random() >= fault.rate) continue;
      fault.fired += 1;
      if (fault.times !== undefined && fault.fired >= fault.times) {
        this.faults = this.faults.filter((f) => f !== fault);
      }
      const { regex: _regex, ...picked } = fault;
      return picked;
    }
    return undefined;
  }

  /** Holds a request without answering; the socket is cut if the client has not given up by the limit. */
  hold(req: Request, res: Response): void {
    const release = (): void => {
      clearTimeout(timer);
      this.held.delete(release);
    };
    const timer = setTimeout(() => {
      release();
      req.socket.destroy();
    }, HOLD_LIMIT_MS);
    this.held.set(release, req);
    res.on('close', release);
  }

  get heldCount(): number {
    return this.held.size;
  }

  /** Lets every held request go by cutting its connection (reset and shutdown). */
  releaseAll(): void {
    for (const [release, req] of [...this.held]) {
      release();
      req.socket.destroy();
    }
  }
}
