import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { CisClientFactory, DEFAULT_AUTHORITY_HOST, type CisClient, type CisMarket } from '../cis';
import { CatalogScheduler } from '../catalog/catalog-scheduler';
import { AuditService, type AuditActor } from '../common/audit.service';
import { decodeCursor, pageOf, type Page } from '../common/pagination';
import { ESD_DATA_SOURCE_TOKEN } from '../common/esd-data-source';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { isForeignKeyViolation, isUniqueViolation } from '../storage/db-errors';
import { newId } from '../storage/entity-columns';
import { CertificateEntity } from './certificate.entity';
import type { CertificateUpload } from './certificate-parser';
import { CertificateService, expiryWarning, type CertificateView } from './certificate.service';
import { ClientCountryEntity } from './client-country.entity';
import { describeMarkets, marketOffered, runConnectionTest } from './connection-test';
import {
  CONNECTION_FIELDS,
  INSTANCE_DEFAULTS,
  type CertificateUploadDto,
  type ConnectionTestResult,
  type ConnectionTestStep,
  type CreateInstanceDto,
  type InstanceOptionsView,
  type InstanceView,
  type UpdateInstanceDto,
} from './instance.dto';
import { InstanceEntity, type InstanceState } from './instance.entity';

const DAY_MS = 86_400_000;

/** An instance row's data (entity instances and plain copies of them alike). */
type InstanceRow = Pick<InstanceEntity, keyof InstanceEntity>;

/** Stage-1 settings whose values may appear in the audit trail (short, not secret). */
const AUDITED_VALUES = [
  'systemName',
  'resourceApi',
  'serviceUrl',
  'tenantId',
  'channelId',
  'clientId',
  'authorityHost',
  'environment',
  'catalogSchedule',
  'returnWindowDays',
  'autoAcceptCancellations',
  'country',
  'language',
] as const;

type ScalarField = (typeof AUDITED_VALUES)[number] | 'caCertificatePem';

/**
 * Applications Setup instances: the two-stage form, the distributor rules and the connection test. Every
 * rule is also a database constraint (unique system name, unique client/country/language, the client-ID
 * binding in `esd_client_country`); the checks here give friendlier answers, and a lost race still ends in
 * the same 409 because the constraint violations map to the same codes.
 */
@Injectable()
export class InstancesService {
  constructor(
    @Inject(ESD_DATA_SOURCE_TOKEN) private readonly dataSource: DataSource,
    private readonly certificates: CertificateService,
    private readonly cis: CisClientFactory,
    private readonly audit: AuditService,
    // Catalog feature: keeps the instance's scheduled Get Services Definition in step with its state.
    @Optional() private readonly catalogScheduler?: CatalogScheduler,
  ) {}

  private readonly logger = new Logger(InstancesService.name);

  async list(page: { cursor?: string; limit?: number }): Promise<Page<InstanceView>> {
    const limit = page.limit ?? 50;
    const query = this.dataSource
      .createQueryBuilder(InstanceEntity, 'i')
      .leftJoinAndSelect('i.certificate', 'c')
      .orderBy('i.systemName', 'ASC')
      .take(limit + 1);
    if (page.cursor !== undefined) {
      query.where('i.systemName > :after', { after: decodeCursor(page.cursor, 1)[0] });
    }
    const now = new Date();
    return pageOf(
      await query.getMany(),
      limit,
      (row) => toView(row, now),
      (row) => [row.systemName],
    );
  }

  async get(id: string): Promise<InstanceView> {
    return toView(await this.load(id), new Date());
  }

  /** Stage 1: the connection. The instance starts as a draft. */
  async create(dto: CreateInstanceDto, actor: AuditActor): Promise<InstanceView> {
    const id = newId();
    await this.dataSource.transaction(async (m) => {
      if (await m.exists(InstanceEntity, { where: { systemName: dto.systemName } })) {
        throw systemNameTaken(dto.systemName);
      }
      const row = {
        id,
        systemName: dto.systemName,
        resourceApi: dto.resourceApi,
        serviceUrl: dto.serviceUrl,
        tenantId: dto.tenantId,
        channelId: dto.channelId,
        clientId: dto.clientId,
        authorityHost: dto.authorityHost ?? DEFAULT_AUTHORITY_HOST,
        caCertificatePem: dto.caCertificatePem ?? null,
        environment: dto.environment ?? INSTANCE_DEFAULTS.environment,
        state: 'draft' as InstanceState,
        country: null,
        language: null,
        certificateId: null,
        catalogSchedule: dto.catalogSchedule ?? INSTANCE_DEFAULTS.catalogSchedule,
        returnWindowDays: dto.returnWindowDays ?? INSTANCE_DEFAULTS.returnWindowDays,
        autoAcceptCancellations: dto.autoAcceptCancellations ?? INSTANCE_DEFAULTS.autoAcceptCancellations,
      };
      await guard(() => m.insert(InstanceEntity, row), dto);
      await this.audit.record(
        {
          actor,
          action: 'instance.create',
          subjectType: 'instance',
          subjectId: id,
          details: {
            fields: definedKeys(dto),
            values: pick(row, AUDITED_VALUES),
          },
        },
        m,
      );
    });
    return this.get(id);
  }

  /**
   * PATCH: any subset of both stages. A certificate is parsed and stored through the certificate store; a
   * market is checked against what Microsoft offers the channel (a call with the instance's certificate)
   * before anything is written; the client-ID binding is kept in the same transaction as the instance.
   */
  async update(id: string, dto: UpdateInstanceDto, actor: AuditActor): Promise<InstanceView> {
    const current = await this.load(id);
    const { disabled, country, language } = dto;
    const upload = dto.certificate ? toCertificateUpload(dto.certificate) : undefined;

    const next: InstanceRow = { ...current };
    const changed: ScalarField[] = [];
    for (const field of [...AUDITED_VALUES, 'caCertificatePem'] as const) {
      if (field === 'country' || field === 'language') continue;
      const given = (dto as Record<string, unknown>)[field];
      if (given === undefined) continue;
      const value =
        field === 'authorityHost' && given === null
          ? DEFAULT_AUTHORITY_HOST
          : field === 'caCertificatePem' && given === null
            ? null
            : given;
      if (value !== (current as unknown as Record<string, unknown>)[field]) {
        (next as unknown as Record<string, unknown>)[field] = value;
        changed.push(field);
      }
    }
    const marketChanged =
      country !== undefined &&
      language !== undefined &&
      (country !== current.country || language !== current.language);
    if (marketChanged) {
      next.country = country;
      next.language = language;
      changed.push('country', 'language');
    }

    // A new certificate that the market check needs must exist before the check signs in with it, so it is
    // stored first (the store is a library of certificates; the instance only points at it if all passes).
    let stored: CertificateView | undefined;
    if (marketChanged) {
      if (upload) stored = await this.certificates.store(upload);
      const certificateId = stored?.id ?? current.certificateId;
      if (!certificateId) throw new EsdError(EsdErrorCode.INSTANCE_CERTIFICATE_REQUIRED);
      const markets = await this.marketsFor({ ...next, certificateId });
      if (!marketOffered(markets, country, language)) {
        throw new EsdError(
          EsdErrorCode.MARKET_NOT_OFFERED,
          `Microsoft does not offer ${country} in ${language} to channel ${next.channelId} (offered: ${describeMarkets(markets)}). Choose a market from the instance's options.`,
          { country, language, offered: markets },
        );
      }
    }

    await this.dataSource.transaction(async (m) => {
      if (upload && !stored) stored = await this.certificates.store(upload, m);
      const certificateChanged = stored !== undefined && stored.id !== current.certificateId;
      if (certificateChanged) next.certificateId = stored!.id;

      const connectionChanged =
        certificateChanged || changed.some((f) => (CONNECTION_FIELDS as readonly string[]).includes(f));
      if (connectionChanged || marketChanged) {
        next.lastConnectionTestOk = null;
        next.lastConnectionTestAt = null;
        next.lastConnectionTestMessage = null;
        next.lastConnectionTestSteps = null;
      }
      const isDisabled = disabled ?? current.state === 'disabled';
      next.state = stateOf(next, isDisabled);

      if (next.systemName !== current.systemName) {
        const clash = await m.findOne(InstanceEntity, { where: { systemName: next.systemName } });
        if (clash && clash.id !== id) throw systemNameTaken(next.systemName);
      }

      const bindingMoves =
        current.country !== next.country || (current.country !== null && current.clientId !== next.clientId);
      if (bindingMoves) {
        if (current.country !== null) {
          // Let go of the old binding first: the row's own reference would keep it alive.
          await m.update(InstanceEntity, { id }, { country: null, language: null });
          await this.releaseBinding(m, current.clientId, current.country);
        }
        if (next.country !== null) await this.bindClientCountry(m, next.clientId, next.country);
      }

      await guard(
        () =>
          m.update(
            InstanceEntity,
            { id },
            {
              systemName: next.systemName,
              resourceApi: next.resourceApi,
              serviceUrl: next.serviceUrl,
              tenantId: next.tenantId,
              channelId: next.channelId,
              clientId: next.clientId,
              authorityHost: next.authorityHost,
              caCertificatePem: next.caCertificatePem,
              environment: next.environment,
              catalogSchedule: next.catalogSchedule,
              returnWindowDays: next.returnWindowDays,
              autoAcceptCancellations: next.autoAcceptCancellations,
              country: next.country,
              language: next.language,
              certificateId: next.certificateId,
              state: next.state,
              lastConnectionTestOk: next.lastConnectionTestOk,
              lastConnectionTestAt: next.lastConnectionTestAt,
              lastConnectionTestMessage: next.lastConnectionTestMessage,
              lastConnectionTestSteps: next.lastConnectionTestSteps,
            },
          ),
        next,
      );

      const subject = { subjectType: 'instance', subjectId: id };
      if (certificateChanged || upload) {
        await this.audit.record(
          {
            actor,
            action: 'instance.certificate_upload',
            ...subject,
            details: {
              // Field names only: the key, the PFX and its password never reach the audit trail.
              fields: definedKeys(upload ?? {}).map((f) => `certificate.${f}`),
              certificate: stored && {
                id: stored.id,
                thumbprint: stored.thumbprint,
                thumbprintSha256: stored.thumbprintSha256,
                subject: stored.subject,
                expiresAt: stored.expiresAt,
              },
            },
          },
          m,
        );
      }
      if (changed.length > 0 || certificateChanged) {
        await this.audit.record(
          {
            actor,
            action: 'instance.update',
            ...subject,
            details: {
              changed: [...changed, ...(certificateChanged ? ['certificate'] : [])],
              changes: Object.fromEntries(
                changed
                  .filter((f): f is (typeof AUDITED_VALUES)[number] => f !== 'caCertificatePem')
                  .map((f) => [f, { from: current[f], to: next[f] }]),
              ),
              stateFrom: current.state,
              stateTo: next.state,
            },
          },
          m,
        );
      }
      if (disabled !== undefined && isDisabled !== (current.state === 'disabled')) {
        await this.audit.record(
          {
            actor,
            action: isDisabled ? 'instance.disable' : 'instance.enable',
            ...subject,
            details: { stateFrom: current.state, stateTo: next.state },
          },
          m,
        );
      }
    });
    await this.syncSchedule(id);
    return this.get(id);
  }

  async remove(id: string, actor: AuditActor): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const current = await m.findOne(InstanceEntity, { where: { id } });
      if (!current) throw new EsdError(EsdErrorCode.NOT_FOUND, 'No instance with this id exists.');
      try {
        await m.delete(InstanceEntity, { id });
      } catch (error) {
        if (isForeignKeyViolation(error)) throw new EsdError(EsdErrorCode.INSTANCE_IN_USE);
        throw error;
      }
      if (current.country !== null) await this.releaseBinding(m, current.clientId, current.country);
      await this.audit.record(
        {
          actor,
          action: 'instance.delete',
          subjectType: 'instance',
          subjectId: id,
          details: { values: pick(current, AUDITED_VALUES), certificateId: current.certificateId },
        },
        m,
      );
    });
    this.cis.forgetInstance(id);
    await this.syncSchedule(id);
  }

  /** The certificates in the store and, once the instance has a certificate, the markets Microsoft offers. */
  async options(id: string): Promise<InstanceOptionsView> {
    const instance = await this.load(id);
    const certificates = (await this.certificates.list()).map((c) => ({
      id: c.id,
      thumbprint: c.thumbprint,
      subject: c.subject,
      expiresAt: c.expiresAt,
    }));
    if (!instance.certificateId) {
      return {
        certificates,
        markets: [],
        note: "Markets are listed once the instance's certificate is stored: listing them needs a sign-in with it.",
      };
    }
    try {
      const markets = await this.marketsFor(instance);
      return { certificates, markets: markets.map((m) => ({ ...m, languages: [...m.languages] })) };
    } catch (error) {
      if (!(error instanceof EsdError)) throw error;
      return {
        certificates,
        markets: [],
        note: `Microsoft's markets could not be listed: ${error.message}`,
      };
    }
  }

  /** Runs the connection test, stores its outcome on the instance (which decides `ready`) and audits it. */
  async testConnection(id: string, actor: AuditActor): Promise<ConnectionTestResult> {
    const instance = await this.load(id);
    const certificate = instance.certificate ?? null;
    const now = new Date();
    const result = await runConnectionTest({
      certificate: certificate && { notBefore: certificate.notBefore, expiresAt: certificate.expiresAt },
      client: () => this.clientFor(instance, instance.certificateId!),
      market:
        instance.country && instance.language
          ? { country: instance.country, language: instance.language }
          : null,
      now,
    });
    const failed = result.steps.find((s) => !s.ok);
    const message = failed ? `The connection test failed at step ${failed.step}: ${failed.message}` : null;

    await this.dataSource.transaction(async (m) => {
      const fresh = await m.findOne(InstanceEntity, { where: { id } });
      if (!fresh) throw new EsdError(EsdErrorCode.NOT_FOUND, 'No instance with this id exists.');
      const tested = { ...fresh, lastConnectionTestOk: result.ok };
      await m.update(
        InstanceEntity,
        { id },
        {
          lastConnectionTestOk: result.ok,
          lastConnectionTestAt: now,
          lastConnectionTestMessage: message?.slice(0, 1000) ?? null,
          lastConnectionTestSteps: result.steps,
          state: stateOf(tested, fresh.state === 'disabled'),
        },
      );
      await this.audit.record(
        {
          actor,
          action: 'instance.connection_test',
          subjectType: 'instance',
          subjectId: id,
          details: { ok: result.ok, failedStep: failed?.step ?? null, code: failed?.code ?? null },
        },
        m,
      );
    });

    await this.syncSchedule(id);
    if (failed) {
      throw new EsdError(EsdErrorCode.CONNECTION_FAILED, message!, {
        steps: result.steps,
        failedStep: failed.step,
      });
    }
    return result;
  }

  /**
   * A CIS client for a ready instance, with its unsealed certificate (catalog runs and other workers use it).
   * A draft or disabled instance is refused with `INSTANCE_NOT_READY`, naming what is missing.
   */
  async clientForInstance(instanceId: string): Promise<{ instance: InstanceEntity; client: CisClient }> {
    const instance = await this.load(instanceId);
    if (instance.state !== 'ready' || !instance.certificateId) {
      const missing = missingFor(instance);
      throw new EsdError(
        EsdErrorCode.INSTANCE_NOT_READY,
        instance.state === 'disabled'
          ? `Instance ${instance.systemName} is disabled. Enable it first.`
          : `Instance ${instance.systemName} is not ready yet: ${missing.join(', ')} still missing. Finish its settings and pass the connection test first.`,
        { instanceId, state: instance.state, missing },
      );
    }
    return { instance, client: await this.clientFor(instance, instance.certificateId) };
  }

  // -------------------------------------------------------------------------------------------------------

  /**
   * Catalog feature: the instance's scheduled run follows its state and cron. A queue that cannot be reached
   * must not undo the settings change: the schedule is put right at the next change or the next worker boot.
   */
  private async syncSchedule(id: string): Promise<void> {
    try {
      await this.catalogScheduler?.sync(id);
    } catch (error) {
      this.logger.warn(
        `The catalog schedule of instance ${id} could not be updated: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  private async load(id: string): Promise<InstanceEntity> {
    const row = await this.dataSource.getRepository(InstanceEntity).findOne({
      where: { id },
      relations: { certificate: true },
    });
    if (!row) throw new EsdError(EsdErrorCode.NOT_FOUND, 'No instance with this id exists.');
    return row;
  }

  private async clientFor(instance: InstanceRow, certificateId: string): Promise<CisClient> {
    const material = await this.certificates.loadMaterial(certificateId);
    return this.cis.forConnection({
      instanceId: instance.id,
      tenantId: instance.tenantId,
      clientId: instance.clientId,
      channelId: instance.channelId,
      resourceApi: instance.resourceApi,
      serviceUrl: instance.serviceUrl,
      authorityHost: instance.authorityHost,
      caCertificatePem: instance.caCertificatePem ?? undefined,
      certificate: material,
    });
  }

  private async marketsFor(instance: InstanceRow): Promise<CisMarket[]> {
    const client = await this.clientFor(instance, instance.certificateId!);
    return client.getMarkets();
  }

  /**
   * Binds the client ID to the country (docs/storage.md, "One client ID serves one country"): creates the
   * binding, keeps an identical one, moves an unused one, and refuses a used one. Each write runs in a
   * savepoint so a lost race can be read back instead of aborting the transaction (PostgreSQL).
   */
  private async bindClientCountry(m: EntityManager, clientId: string, country: string): Promise<void> {
    let bound = await m.findOne(ClientCountryEntity, { where: { clientId } });
    if (!bound) {
      try {
        await m.transaction((sp) => sp.insert(ClientCountryEntity, { clientId, country }));
        return;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        bound = await m.findOne(ClientCountryEntity, { where: { clientId } });
        if (!bound) throw await this.countryConflict(m, clientId, country, null);
      }
    }
    if (bound.country === country) return;
    const users = await m.count(InstanceEntity, { where: { clientId, country: bound.country } });
    if (users > 0) throw await this.countryConflict(m, clientId, country, bound.country);
    try {
      await m.transaction(async (sp) => {
        await sp.delete(ClientCountryEntity, { clientId, country: bound.country });
        await sp.insert(ClientCountryEntity, { clientId, country });
      });
    } catch (error) {
      if (isForeignKeyViolation(error) || isUniqueViolation(error)) {
        throw await this.countryConflict(m, clientId, country, bound.country);
      }
      throw error;
    }
  }

  /** Drops the client ID's binding when no instance uses it any more. */
  private async releaseBinding(m: EntityManager, clientId: string, country: string): Promise<void> {
    if ((await m.count(InstanceEntity, { where: { clientId, country } })) > 0) return;
    try {
      await m.transaction((sp) => sp.delete(ClientCountryEntity, { clientId, country }));
    } catch (error) {
      // Another transaction took the binding meanwhile: it stays, which is what that instance needs.
      if (!isForeignKeyViolation(error)) throw error;
    }
  }

  private async countryConflict(
    m: EntityManager,
    clientId: string,
    requested: string,
    boundCountry: string | null,
  ): Promise<EsdError> {
    const bound = boundCountry ?? (await m.findOne(ClientCountryEntity, { where: { clientId } }))?.country;
    const users = bound
      ? await m.find(InstanceEntity, { where: { clientId, country: bound }, select: { systemName: true } })
      : [];
    const names = users.map((u) => u.systemName);
    return new EsdError(
      EsdErrorCode.CLIENT_ID_COUNTRY_CONFLICT,
      bound
        ? `Client ID ${clientId} already serves ${bound}${names.length ? ` (instance ${names.join(', ')})` : ''}, and Microsoft issues one client ID per country. Use the client ID Microsoft issued for ${requested}, or move those instances off ${bound} first.`
        : undefined,
      { clientId, boundCountry: bound ?? null, requestedCountry: requested, instances: names },
    );
  }
}

/** Runs a write and turns the database's refusals into the rule they stand for. */
async function guard<T>(
  write: () => Promise<T>,
  values: { systemName: string; clientId: string; country?: string | null; language?: string | null },
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isUniqueViolation(error, 'UQ_esd_instance_system_name')) throw systemNameTaken(values.systemName);
    if (isUniqueViolation(error, 'UQ_esd_instance_client_market')) {
      throw new EsdError(
        EsdErrorCode.INSTANCE_MARKET_TAKEN,
        `Another instance already sells client ID ${values.clientId} in ${values.country} / ${values.language}. Edit that instance instead, or choose another market.`,
        { clientId: values.clientId, country: values.country, language: values.language },
      );
    }
    if (isForeignKeyViolation(error, 'FK_esd_instance_client_country')) {
      throw new EsdError(EsdErrorCode.CLIENT_ID_COUNTRY_CONFLICT, undefined, {
        clientId: values.clientId,
        requestedCountry: values.country,
      });
    }
    throw error;
  }
}

/** The upload as the certificate store takes it: exactly one form, no undefined class fields. */
function toCertificateUpload(dto: CertificateUploadDto): CertificateUpload {
  return dto.pfxBase64 !== undefined
    ? { pfxBase64: dto.pfxBase64, password: dto.password ?? '' }
    : { pem: dto.pem ?? '', privateKeyPem: dto.privateKeyPem ?? '' };
}

/** Names of the fields a request really gave (DTO instances define every declared field, given or not). */
function definedKeys(value: object): string[] {
  return Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k)
    .sort();
}

function systemNameTaken(systemName: string): EsdError {
  return new EsdError(
    EsdErrorCode.SYSTEM_NAME_TAKEN,
    `Another instance is already called "${systemName}". Choose a different system name.`,
    { systemName },
  );
}

/** What still keeps an instance from being ready. */
function missingFor(e: InstanceRow): string[] {
  const missing: string[] = [];
  if (!e.certificateId) missing.push('certificate');
  if (!e.country || !e.language) missing.push('market');
  if (e.lastConnectionTestOk !== true) missing.push('connection test');
  return missing;
}

function stateOf(e: InstanceRow, disabled: boolean): InstanceState {
  if (disabled) return 'disabled';
  return missingFor(e).length === 0 ? 'ready' : 'draft';
}

function pick<T extends object, K extends keyof T>(row: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, row[k]])) as Pick<T, K>;
}

function certificateView(c: CertificateEntity, now: Date): InstanceView['certificate'] {
  return {
    id: c.id,
    thumbprint: c.thumbprint,
    thumbprintSha256: c.thumbprintSha256,
    subject: c.subject,
    expiresAt: c.expiresAt.toISOString(),
    expiresInDays: Math.floor((c.expiresAt.getTime() - now.getTime()) / DAY_MS),
    expiryWarning: expiryWarning(c.expiresAt, now),
  };
}

/** The §7 wire shape; sealed columns are never loaded, so none can leak here. */
export function toView(e: InstanceEntity, now: Date): InstanceView {
  return {
    id: e.id,
    systemName: e.systemName,
    resourceApi: e.resourceApi,
    serviceUrl: e.serviceUrl,
    tenantId: e.tenantId,
    channelId: e.channelId,
    clientId: e.clientId,
    authorityHost: e.authorityHost,
    caCertificatePem: e.caCertificatePem,
    environment: e.environment,
    state: e.state,
    country: e.country,
    language: e.language,
    certificate: e.certificate ? certificateView(e.certificate, now) : null,
    catalogSchedule: e.catalogSchedule ?? INSTANCE_DEFAULTS.catalogSchedule,
    returnWindowDays: e.returnWindowDays,
    autoAcceptCancellations: e.autoAcceptCancellations,
    lastConnectionTest:
      e.lastConnectionTestOk === null || e.lastConnectionTestAt === null
        ? null
        : {
            ok: e.lastConnectionTestOk,
            at: e.lastConnectionTestAt.toISOString(),
            message: e.lastConnectionTestMessage,
            steps: (e.lastConnectionTestSteps ?? []) as ConnectionTestStep[],
          },
    missing: e.state === 'disabled' ? [] : missingFor(e),
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}
