import { Injectable } from '@nestjs/common';
import { Inject } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import type { HostNotification } from '../host/ports';
import { SecretSealer } from '../settings/secret-sealer';
import { LicenseEntity } from './license.entity';

/** The welcome notification's template (plugin.manifest.json `notifications`). */
export const WELCOME_TEMPLATE = 'esd.welcome';

/** A license's product key and activation link, opened: only reveal and the welcome notification carry them. */
export interface LicenseSecrets {
  productKey: string;
  activationLink: string;
}

type WelcomeFields = Pick<
  LicenseEntity,
  | 'id'
  | 'customerAccountId'
  | 'customerEmail'
  | 'customerName'
  | 'customerLocale'
  | 'language'
  | 'productName'
>;

/**
 * *Welcome Microsoft ESD customer*: product, key and activation link, to the end customer. The dedupe key is the
 * license's own for the first sending (a re-delivery after a crash is the same notification), and a fresh one for
 * an administrator's resend.
 */
export function welcomeNotification(
  license: WelcomeFields,
  secrets: LicenseSecrets,
  dedupeKey: string = `${WELCOME_TEMPLATE}:${license.id}`,
): HostNotification {
  return {
    template: WELCOME_TEMPLATE,
    to: {
      accountId: license.customerAccountId,
      ...(license.customerEmail === null ? {} : { email: license.customerEmail }),
      name: license.customerName,
    },
    locale: license.customerLocale ?? license.language,
    data: {
      licenseId: license.id,
      productName: license.productName,
      productKey: secrets.productKey,
      activationLink: secrets.activationLink,
    },
    dedupeKey,
  };
}

/** Opens a license's sealed key and link (never selected by default). */
@Injectable()
export class LicenseSecretsReader {
  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    private readonly sealer: SecretSealer,
  ) {}

  async open(licenseId: string): Promise<LicenseSecrets> {
    const row = await this.dataSource.getRepository(LicenseEntity).findOneOrFail({
      where: { id: licenseId },
      select: {
        id: true,
        tokenSealed: true,
        tokenKeyId: true,
        activationLinkSealed: true,
        activationLinkKeyId: true,
      },
    });
    if (!row.tokenSealed || !row.tokenKeyId || !row.activationLinkSealed || !row.activationLinkKeyId) {
      throw new Error(`license ${licenseId} has no sealed token`);
    }
    return {
      productKey: this.sealer.open({ ciphertext: row.tokenSealed, keyId: row.tokenKeyId }),
      activationLink: this.sealer.open({
        ciphertext: row.activationLinkSealed,
        keyId: row.activationLinkKeyId,
      }),
    };
  }
}
