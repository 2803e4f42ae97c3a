import { CancellationRequestEntity } from '../cancellation/cancellation-request.entity';
import { LicenseReturnEntity } from '../cancellation/return.entity';
import { CatalogRunEntity } from '../catalog/catalog-run.entity';
import { OfferEntity } from '../catalog/offer.entity';
import { AuditEventEntity } from '../common/audit-event.entity';
import { LicenseEntity } from '../licenses/license.entity';
import { CertificateEntity } from '../settings/certificate.entity';
import { ClientCountryEntity } from '../settings/client-country.entity';
import { InstanceEntity } from '../settings/instance.entity';

/**
 * Every entity of the plugin (tables `esd_*`). A host adds these to its DataSource's `entities` — no glob
 * needed — and {@link ESD_MIGRATIONS} to its `migrations`.
 */
export const ESD_ENTITIES = [
  CertificateEntity,
  ClientCountryEntity,
  InstanceEntity,
  AuditEventEntity,
  CatalogRunEntity,
  OfferEntity,
  LicenseEntity,
  LicenseReturnEntity,
  CancellationRequestEntity,
];

export {
  AuditEventEntity,
  CancellationRequestEntity,
  CatalogRunEntity,
  CertificateEntity,
  ClientCountryEntity,
  InstanceEntity,
  LicenseEntity,
  LicenseReturnEntity,
  OfferEntity,
};
