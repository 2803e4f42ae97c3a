import type { RouteTable } from '../route-table';
import type { SandboxState } from '../sandbox-state';
import type { ApiCaller } from './api-caller';

/** `GET /channels/{channelId}/markets`: the countries, currencies and languages the channel sells in. */
export function registerMarketsRoutes(api: RouteTable<ApiCaller>, state: SandboxState): void {
  api.add('GET', '/channels/:channelId/markets', (_req, caller) => ({
    body: { items: state.channels.get(caller.channelId) ?? [] },
  }));
}
