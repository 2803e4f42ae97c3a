/** Entity rows with valid defaults and overrides, for suites that write the plugin's tables directly. */
import { InstanceEntity } from '../../src/settings/instance.entity';
import { newId } from '../../src/storage/entity-columns';

let counter = 0;
/** A value no other row of the run has. */
export const unique = (prefix: string) => `${prefix}-${++counter}-${newId().slice(0, 8)}`;

/** A draft instance (stage 1 only). */
export function instanceRow(overrides: Partial<InstanceEntity> = {}): InstanceEntity {
  return Object.assign(new InstanceEntity(), {
    systemName: unique('sys'),
    resourceApi: 'https://api.esd.example/',
    serviceUrl: 'https://esd.example/api',
    tenantId: 'tenant-1',
    channelId: 'channel-1',
    clientId: unique('client'),
    authorityHost: 'https://login.example',
    caCertificatePem: null,
    environment: 'sandbox',
    state: 'draft',
    country: null,
    language: null,
    certificateId: null,
    catalogSchedule: null,
    lastConnectionTestOk: null,
    lastConnectionTestAt: null,
    lastConnectionTestMessage: null,
    lastConnectionTestSteps: null,
    ...overrides,
  });
}
