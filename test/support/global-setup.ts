import { requireService } from './services';

/** Every suite needs the real services: say which one is missing before any test runs. */
export default async function globalSetup(): Promise<void> {
  process.env.TZ = 'UTC';
  for (const name of ['postgres', 'mariadb', 'redis'] as const) await requireService(name);
}
