import { CreateReferenceHostTables1763990000000 } from './1763990000000-CreateReferenceHostTables';
import { CreateReferenceHostOrders1763990001000 } from './1763990001000-CreateReferenceHostOrders';

/** The reference host's own migrations (tables `host_*`), oldest first; the host runs them beside the plugin's. */
export const HOST_MIGRATIONS = [
  CreateReferenceHostTables1763990000000,
  CreateReferenceHostOrders1763990001000,
];
