import { CreateSettingsTables1764000000000 } from '../../migrations/1764000000000-CreateSettingsTables';
import { CreateCatalogTables1764000001000 } from '../../migrations/1764000001000-CreateCatalogTables';
import { CreateLicenseTables1764000002000 } from '../../migrations/1764000002000-CreateLicenseTables';
import { AddCatalogRunPageFingerprints1764000003000 } from '../../migrations/1764000003000-AddCatalogRunPageFingerprints';

/**
 * The plugin's migrations, oldest first. A host passes them to its DataSource's `migrations` (or uses the
 * manifest's glob `dist/migrations/*.js`) and runs them with its own `dataSource.runMigrations()`; the plugin
 * never runs them itself and never synchronizes.
 */
export const ESD_MIGRATIONS = [
  CreateSettingsTables1764000000000,
  CreateCatalogTables1764000001000,
  CreateLicenseTables1764000002000,
  AddCatalogRunPageFingerprints1764000003000,
];
