import type { HostCatalog, HostEvents, HostNotifier } from '../../src/host/ports';

/** Host ports that accept everything and keep nothing, for suites that do not look at what the host got. */
export function inertHostPorts(): { catalog: HostCatalog; notifier: HostNotifier; events: HostEvents } {
  return {
    catalog: {
      upsertProductType: async () => undefined,
      upsertProducts: async () => [],
      setProductsStatus: async () => undefined,
    },
    notifier: { send: async () => undefined },
    events: { publish: async () => undefined },
  };
}

/** A host call a {@link ScriptedHostCatalog} is told to fail, or to run something before. */
export interface HostCatalogCue {
  method: 'upsertProducts' | 'setProductsStatus';
  instanceId: string;
  /** The call matches when it names this product code. */
  code: string;
}

/**
 * The host's real catalog, with events on cue: a test names a call (method, instance, a product code it
 * carries) and that call fails once before reaching the host — as a host that is briefly unavailable does — or
 * first runs the test's action (a catalog change at Microsoft, say), so a run can be interrupted or disturbed on
 * exactly the page or phase the test chooses.
 */
export class ScriptedHostCatalog implements HostCatalog {
  private cues: (HostCatalogCue & { action?: () => Promise<void> })[] = [];
  /** The cues that fired, in order. */
  readonly fired: HostCatalogCue[] = [];
  /** Every product call that reached the host, in order: how many products, and which instances and currencies. */
  readonly calls: Array<{ method: HostCatalogCue['method']; size: number; currencies: string[] }> = [];

  constructor(private readonly inner: HostCatalog) {}

  /** The matching call fails once. */
  failOnce(cue: HostCatalogCue): void {
    this.cues.push({ ...cue });
  }

  /** Before the matching call reaches the host, `action` runs, once. */
  onceBefore(cue: HostCatalogCue, action: () => Promise<void>): void {
    this.cues.push({ ...cue, action });
  }

  upsertProductType(
    ...args: Parameters<HostCatalog['upsertProductType']>
  ): ReturnType<HostCatalog['upsertProductType']> {
    return this.inner.upsertProductType(...args);
  }

  async upsertProducts(
    ...args: Parameters<HostCatalog['upsertProducts']>
  ): ReturnType<HostCatalog['upsertProducts']> {
    await this.cue('upsertProducts', args[0]);
    this.calls.push({
      method: 'upsertProducts',
      size: args[0].length,
      currencies: [...new Set(args[0].map((p) => p.currency))],
    });
    return this.inner.upsertProducts(...args);
  }

  async setProductsStatus(
    ...args: Parameters<HostCatalog['setProductsStatus']>
  ): ReturnType<HostCatalog['setProductsStatus']> {
    await this.cue('setProductsStatus', args[0]);
    this.calls.push({ method: 'setProductsStatus', size: args[0].length, currencies: [] });
    return this.inner.setProductsStatus(...args);
  }

  private async cue(
    method: HostCatalogCue['method'],
    items: readonly { instanceId: string; code: string }[],
  ): Promise<void> {
    const cue = this.cues.find(
      (c) => c.method === method && items.some((i) => i.instanceId === c.instanceId && i.code === c.code),
    );
    if (!cue) return;
    this.cues = this.cues.filter((c) => c !== cue);
    this.fired.push({ method: cue.method, instanceId: cue.instanceId, code: cue.code });
    if (cue.action) await cue.action();
    else throw new Error(`The host catalog is unavailable (${method}, scripted by the test).`);
  }
}
