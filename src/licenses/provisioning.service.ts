import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CisError, type CisClient, type CisToken } from '../cis';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { ESD_OPTIONS } from '../constants';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';
import { InstancesService } from '../settings/instances.service';
import { SecretSealer } from '../settings/secret-sealer';
import { LicenseEntity } from './license.entity';
import { lastGroupOf } from './license-view';
import { LicenseSecretsReader, welcomeNotification } from './welcome';

/** How one attempt of `provision-license` ended, for the processor. */
export type ProvisioningOutcome =
  | { outcome: 'synchronized'; reconciled: boolean }
  | { outcome: 'announced' }
  | { outcome: 'failed'; code: string }
  /**
   * Transient: the license stays Unsynchronised; the processor rethrows so Bull retries with backoff. `settledThrough`
   * is set when the attempt left nothing unaccounted for at Microsoft (see `ProvisionLicenseJobData`).
   */
  | { outcome: 'retry'; error: Error; settledThrough?: number }
  | { outcome: 'skipped'; reason: string };

/**
 * How long after an attempt starts the sweeper leaves an Unsynchronised license alone (a live attempt or its
 * Bull retry covers it meanwhile): a call's timeout with its in-call retries, plus the longest backoff.
 */
function attemptLease(options: ResolvedEsdOptions): number {
  return options.cisTimeoutMs * 4 + options.jobRetry.maxMs;
}

/**
 * Issues one license's token — exactly one, whatever fails (ARCHITECTURE.md §2):
 * - the license's `clientTransactionId` was stored with the order, and every request for it sends the same id and
 *   body, which Microsoft answers idempotently;
 * - an attempt counts itself on the row *before* calling Microsoft, so any later attempt knows an earlier one may
 *   have reached Microsoft (a timeout, a dropped connection, a killed worker) and looks the transaction up first,
 *   submitting only when Microsoft has none — unless the job recorded that the last counted attempt was refused
 *   outright (a 429 created nothing), so a rate-limited license does not spend a look-up on every retry;
 * - the token is sealed and the row set Synchronized only while it is still Unsynchronised, so two workers on one
 *   license (a stalled job and its sweeper re-run) write it once.
 * Once Synchronized, the welcome notification (dedupe key per license) and `licenseProvisioned` are handed to
 * the host, then `welcome_sent_at` is set; a crash in between hands them over again, under the same keys.
 */
@Injectable()
export class ProvisioningService {
  private readonly logger = new Logger(ProvisioningService.name);

  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    @Inject(ESD_OPTIONS) private readonly options: ResolvedEsdOptions,
    private readonly instances: InstancesService,
    private readonly sealer: SecretSealer,
    private readonly secrets: LicenseSecretsReader,
  ) {}

  /**
   * One attempt; never throws for the license's own failures (see {@link ProvisioningOutcome}). `settledThrough` is
   * what an earlier attempt of the job recorded (`ProvisionLicenseJobData`).
   */
  async provision(
    licenseId: string,
    attempt: { final: boolean; settledThrough?: number },
  ): Promise<ProvisioningOutcome> {
    const repo = this.dataSource.getRepository(LicenseEntity);
    const license = await repo.findOneBy({ id: licenseId });
    if (!license) return { outcome: 'skipped', reason: `no license ${licenseId}` };
    if (license.provisioningStatus === 'Failed') {
      return { outcome: 'skipped', reason: `license ${licenseId} failed; it waits for a re-sync` };
    }
    if (license.provisioningStatus === 'Synchronized') {
      if (license.welcomeSentAt !== null) {
        return { outcome: 'skipped', reason: `license ${licenseId} is provisioned and announced` };
      }
      await this.announce(license, null);
      return { outcome: 'announced' };
    }

    let issued: { token: CisToken; reconciled: boolean; saved: boolean };
    const trail = { settled: false };
    try {
      issued = await this.issueToken(license, attempt.settledThrough, trail);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (isPermanent(failure)) {
        const code = failure instanceof CisError && failure.vendorCode ? failure.vendorCode : codeOf(failure);
        await this.fail(license, code, readableMessage(failure));
        return { outcome: 'failed', code };
      }
      if (attempt.final) {
        // The last attempt may have reached Microsoft (a timeout, a dropped answer): before calling the license
        // failed, ask once whether the token exists, so a license Microsoft did issue is never left Failed.
        const found = trail.settled ? null : await this.lookUpQuietly(license);
        if (found) {
          if (await this.saveToken(license, found)) await this.announce(license, found);
          return { outcome: 'synchronized', reconciled: true };
        }
        await this.fail(
          license,
          EsdErrorCode.PROVISIONING_ATTEMPTS_EXHAUSTED,
          `${ERROR_DESCRIPTIONS.PROVISIONING_ATTEMPTS_EXHAUSTED.message} Last error: ${readableMessage(failure)}`,
        );
        return { outcome: 'failed', code: EsdErrorCode.PROVISIONING_ATTEMPTS_EXHAUSTED };
      }
      this.logger.warn(
        `License ${license.id}: attempt ${license.attempts + 1} failed (${codeOf(failure)}); it is retried.`,
      );
      return {
        outcome: 'retry',
        error: failure,
        ...(trail.settled ? { settledThrough: license.attempts + 1 } : {}),
      };
    }
    // A failed hand-over throws: Bull retries the job, and past its attempts the sweeper finds the license
    // Synchronized but not announced.
    if (issued.saved) await this.announce(license, issued.token);
    return { outcome: 'synchronized', reconciled: issued.reconciled };
  }

  /**
   * The token: looked up first when an earlier attempt may have reached Microsoft, requested otherwise. `trail.settled`
   * says, as the attempt goes, whether nothing would be left unaccounted for at Microsoft if it failed now: the
   * earlier attempts are (settled by the job's record, or looked up) and this one's request created nothing.
   */
  private async issueToken(
    license: LicenseEntity,
    settledThrough: number | undefined,
    trail: { settled: boolean },
  ): Promise<{ token: CisToken; reconciled: boolean; saved: boolean }> {
    const mayHaveReachedMicrosoft = license.attempts > 0 && license.attempts !== settledThrough;
    trail.settled = !mayHaveReachedMicrosoft;
    await this.claimAttempt(license);
    const { client } = await this.instances.clientForInstance(license.instanceId);
    const found = mayHaveReachedMicrosoft ? await client.getToken(license.clientTransactionId) : null;
    let token: CisToken;
    if (found) {
      this.logger.log(
        `License ${license.id}: an earlier attempt had reached Microsoft; its token was found and kept (no second request).`,
      );
      token = found;
    } else {
      try {
        token = await this.requestToken(client, license);
      } catch (error) {
        // Refused with an answer, or never sent: Microsoft created nothing, and had nothing before (looked up).
        trail.settled = error instanceof CisError && !error.outcomeUnknown;
        throw error;
      }
    }
    // Microsoft holds the license's token now: should the save fail, the next attempt looks it up.
    trail.settled = false;
    const saved = await this.saveToken(license, token);
    return { token, reconciled: found !== null, saved };
  }

  /** The license's token if Microsoft holds one; `null` when it has none or could not be asked. */
  private async lookUpQuietly(license: LicenseEntity): Promise<CisToken | null> {
    try {
      const { client } = await this.instances.clientForInstance(license.instanceId);
      return await client.getToken(license.clientTransactionId);
    } catch (error) {
      this.logger.warn(
        `License ${license.id}: the last look-up failed too (${codeOf(error instanceof Error ? error : new Error(String(error)))}); a re-sync looks it up first.`,
      );
      return null;
    }
  }

  /**
   * Counts the attempt on the row before Microsoft is called and pushes `next_attempt_at` past it, so the
   * sweeper leaves a live attempt alone.
   */
  private async claimAttempt(license: LicenseEntity): Promise<void> {
    await this.dataSource
      .createQueryBuilder()
      .update(LicenseEntity)
      .set({
        attempts: () => 'attempts + 1',
        nextAttemptAt: new Date(Date.now() + attemptLease(this.options)),
      })
      .where('id = :id AND provisioning_status = :status', { id: license.id, status: 'Unsynchronised' })
      .execute();
  }

  private requestToken(client: CisClient, license: LicenseEntity): Promise<CisToken> {
    return client.createToken(
      {
        clientTransactionId: license.clientTransactionId,
        offerId: license.productCode,
        country: license.country,
        language: license.language,
        endCustomer: {
          name: license.customerName,
          ...(license.customerEmail === null ? {} : { email: license.customerEmail }),
          country: license.customerCountry,
        },
      },
      // One logical operation per license: the same MS-RequestId on every retry, across jobs too.
      { requestId: license.clientTransactionId },
    );
  }

  /** Seals and stores the token while the license is still Unsynchronised; answers whether this call stored it. */
  private async saveToken(license: LicenseEntity, token: CisToken): Promise<boolean> {
    const key = this.sealer.seal(token.productKey);
    const link = this.sealer.seal(token.activationLink);
    const result = await this.dataSource
      .createQueryBuilder()
      .update(LicenseEntity)
      .set({
        provisioningStatus: 'Synchronized',
        provisioningErrorCode: null,
        provisioningErrorMessage: null,
        nextAttemptAt: null,
        vendorTransactionId: token.transactionId,
        tokenSealed: key.ciphertext,
        tokenKeyId: key.keyId,
        activationLinkSealed: link.ciphertext,
        activationLinkKeyId: link.keyId,
        tokenLastGroup: lastGroupOf(token.productKey),
        tokenStatus: token.tokenStatus,
        tokenCreatedAt: token.createdAt,
        tokenStatusCheckedAt: new Date(),
      })
      .where('id = :id AND provisioning_status = :status', { id: license.id, status: 'Unsynchronised' })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /**
   * Hands the welcome notification and `licenseProvisioned` to the host, then marks the license announced. With
   * no token in hand (a re-run after a crash), the sealed key and link are opened from the row.
   */
  private async announce(license: LicenseEntity, token: CisToken | null): Promise<void> {
    const secrets = token
      ? { productKey: token.productKey, activationLink: token.activationLink }
      : await this.secrets.open(license.id);
    await this.options.notifier.send(welcomeNotification(license, secrets));
    await this.options.events.publish({
      id: `licenseProvisioned:${license.id}`,
      name: 'licenseProvisioned',
      occurredAt: new Date().toISOString(),
      payload: {
        licenseId: license.id,
        hostOrderId: license.hostOrderId,
        hostOrderItemId: license.hostOrderItemId,
        instanceId: license.instanceId,
      },
    });
    await this.dataSource
      .createQueryBuilder()
      .update(LicenseEntity)
      .set({ welcomeSentAt: new Date() })
      .where('id = :id AND welcome_sent_at IS NULL', { id: license.id })
      .execute();
  }

  /** Unsynchronised → Failed with the code and sentence, then `licenseProvisioningFailed` (once per failure). */
  private async fail(license: LicenseEntity, code: string, message: string): Promise<void> {
    const result = await this.dataSource
      .createQueryBuilder()
      .update(LicenseEntity)
      .set({
        provisioningStatus: 'Failed',
        provisioningErrorCode: code.slice(0, 100),
        provisioningErrorMessage: message.slice(0, 1000),
        nextAttemptAt: null,
      })
      .where('id = :id AND provisioning_status = :status', { id: license.id, status: 'Unsynchronised' })
      .execute();
    if ((result.affected ?? 0) === 0) return;
    this.logger.warn(`License ${license.id}: provisioning failed (${code}).`);
    try {
      await this.options.events.publish({
        id: `licenseProvisioningFailed:${license.id}:${license.attempts + 1}`,
        name: 'licenseProvisioningFailed',
        occurredAt: new Date().toISOString(),
        payload: {
          licenseId: license.id,
          hostOrderId: license.hostOrderId,
          hostOrderItemId: license.hostOrderItemId,
          instanceId: license.instanceId,
          code,
          message,
        },
      });
    } catch (error) {
      // The failure is stored either way; the host can read it from the license.
      this.logger.warn(
        `licenseProvisioningFailed for license ${license.id} could not be handed to the host: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

/**
 * A failure no retry can mend: Microsoft's business refusal (a CIS 4xx), or an instance that cannot sell (not
 * ready, gone). Everything else — transient, unknown outcome, the database or queue away, a bug — is retried.
 */
function isPermanent(error: Error): boolean {
  if (error instanceof CisError) return !error.transient && !error.outcomeUnknown;
  if (error instanceof EsdError) {
    return error.code === EsdErrorCode.INSTANCE_NOT_READY || error.code === EsdErrorCode.NOT_FOUND;
  }
  return false;
}

function codeOf(error: Error): string {
  return error instanceof EsdError ? error.code : EsdErrorCode.INTERNAL;
}

/** The plugin's sentence, with Microsoft's own words after it when it gave some. */
function readableMessage(error: Error): string {
  if (!(error instanceof EsdError)) return ERROR_DESCRIPTIONS.INTERNAL.message;
  const vendor = error instanceof CisError ? error.details?.vendorMessage : undefined;
  return typeof vendor === 'string' && vendor !== ''
    ? `${error.message} Microsoft said: ${vendor}`
    : error.message;
}
