import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { FaultInjector } from '../fault-injector';
import type { SandboxState } from '../sandbox-state';
import { registerCatalogControls } from './catalog.control';
import { parseConfig, parseFault, parseIdentity, type Parsed } from './control-schemas';
import { registerTokenControls } from './tokens.control';

export interface ControlsDeps {
  state: SandboxState;
  faults: FaultInjector;
  /** The default test identity and connection settings (`GET /__sandbox/credentials`). */
  credentials: () => object;
  /** The client `POST /__sandbox/identities` registers for when the body names none. */
  defaultClientId: string;
  defaultChannelId: string;
  reset: () => void;
}

/**
 * The test controls under `/__sandbox` (host-contract.md §6): no auth, never faulted, never rate-limited,
 * never counted. Every body is validated; a bad one answers 400 with the reason.
 */
export function createControlsRouter(deps: ControlsDeps): Router {
  const { state, faults } = deps;
  const router = express.Router();
  router.use(express.json({ limit: '1mb' }));

  router.get('/credentials', (_req, res) => {
    res.json(deps.credentials());
  });

  router.get('/markets', (req, res) => {
    const requested: unknown = req.query.channelId;
    if (requested !== undefined && typeof requested !== 'string') {
      refuse(res, 400, 'InvalidControlRequest', 'channelId must be a single string');
      return;
    }
    const channelId = requested ?? deps.defaultChannelId;
    const markets = state.channels.get(channelId);
    if (!markets) {
      refuse(res, 404, 'ChannelNotFound', `channel ${channelId} is not known to the sandbox`);
      return;
    }
    res.json({ channelId, items: markets });
  });

  router.get('/faults', (_req, res) => {
    res.json({ items: faults.list() });
  });

  router.post('/faults', (req, res) => {
    const parsed = parseFault(req.body);
    if (rejected(res, parsed)) return;
    res.status(201).json(faults.add(parsed.value));
  });

  router.delete('/faults', (_req, res) => {
    const removed = faults.list().length;
    faults.clear();
    res.json({ removed });
  });

  router.get('/config', (_req, res) => {
    res.json(state.config);
  });

  router.post('/config', (req, res) => {
    const parsed = parseConfig(req.body);
    if (rejected(res, parsed)) return;
    res.json(state.updateConfig(parsed.value));
  });

  router.get('/stats', (_req, res) => {
    res.json({ ...state.stats, heldRequests: faults.heldCount });
  });

  router.post('/reset', (_req, res) => {
    deps.reset();
    res.status(204).end();
  });

  router.post('/identities', (req, res) => {
    const parsed = parseIdentity(req.body);
    if (rejected(res, parsed)) return;
    const clientId = parsed.value.clientId ?? deps.defaultClientId;
    if (!state.client(clientId)) {
      refuse(res, 404, 'ClientNotFound', `client ${clientId} is not registered in the sandbox`);
      return;
    }
    try {
      res.status(201).json({ clientId, ...state.registerCertificate(clientId, parsed.value.certificatePem) });
    } catch {
      refuse(res, 400, 'InvalidControlRequest', 'certificatePem is not a readable PEM certificate');
    }
  });

  registerCatalogControls(router, { state, defaultChannelId: deps.defaultChannelId });
  registerTokenControls(router, { state });

  router.use((_req, res) => {
    refuse(res, 404, 'NotFound', 'no such sandbox control');
  });

  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = typeof err === 'object' && err !== null && 'status' in err ? err.status : 0;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      refuse(res, 400, 'InvalidControlRequest', 'the body is not valid JSON');
    } else {
      refuse(res, 500, 'InternalError', 'the control failed unexpectedly');
    }
  });

  return router;
}

function rejected<T>(res: Response, parsed: Parsed<T>): parsed is { ok: false; reason: string } {
  if (parsed.ok) return false;
  refuse(res, 400, 'InvalidControlRequest', parsed.reason);
  return true;
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}
