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
