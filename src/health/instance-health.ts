import { type DataSource, LessThan } from 'typeorm';
import { CATALOG_RUN_STALE_MS } from '../catalog/catalog-runs.service';
import { CatalogRunEntity } from '../catalog/catalog-run.entity';
import { LicenseEntity } from '../licenses/license.entity';
import { InstanceEntity } from '../settings/instance.entity';
import type { CisCallEvidence } from './cis-call-tracker';
import type { HealthCheck } from './health.service';

const DAY_MS = 86_400_000;
/** Days before expiry from which a certificate is reported (the same 30 days the instance view warns at). */
export const CERTIFICATE_WARN_DAYS = 30;
/**
 * How long a license may stay Unsynchronised after its order before health fails: a token normally comes within
 * seconds and retries end in Failed well within this, so a license waiting longer means provisioning is not
 * running (no worker, Redis, Microsoft down).
 */
export const UNSYNCHRONISED_OVERDUE_MS = 15 * 60_000;
/** A queued or running catalog run that has not moved for this long is reported (the sweeper's staleness bound). */
export const CATALOG_RUN_STILL_MS = CATALOG_RUN_STALE_MS;

/** What health learned about an instance beyond its own row. */
export interface InstanceHealthFacts {
  lastCatalogRun: Pick<
    CatalogRunEntity,
    | 'id'
    | 'trigger'
    | 'status'
    | 'progress'
    | 'startedAt'
    | 'finishedAt'
    | 'error'
    | 'createdAt'
    | 'updatedAt'
  > | null;
  /** When a run last succeeded, read only when the last run did not. */
  lastSucceededCatalogRunAt: Date | null;
  licenses: {
    failed: number;
    failedByCode: Record<string, number>;
    /** Unsynchronised and ordered more than {@link UNSYNCHRONISED_OVERDUE_MS} ago. */
    overdue: number;
    oldestOverdue: { id: string; createdAt: Date } | null;
  };
  calls: CisCallEvidence;
}

const NO_FACTS: InstanceHealthFacts = {
  lastCatalogRun: null,
  lastSucceededCatalogRunAt: null,
  licenses: { failed: 0, failedByCode: {}, overdue: 0, oldestOverdue: null },
  calls: { succeededAt: null, refusedAt: null },
};

/**
 * One check per instance (`instance:<systemName>`), with a sentence per problem: its state; its certificate's days
 * to expiry (warn within 30 days, fail once expired); whether its credentials work (the last connection test, and
 * this node's last CIS calls); its last catalog run (failed or stuck: warn); its licenses Failed (warn, with the
 * count by error code) or Unsynchronised for longer than {@link UNSYNCHRONISED_OVERDUE_MS} (fail). A disabled
 * instance's settings and catalog are never a problem — the admin took it out of service on purpose — but its
 * licenses still are: their customers paid and wait.
 */
export async function instanceHealthChecks(
  dataSource: DataSource,
  now: Date,
  calls: (instanceId: string) => CisCallEvidence = () => NO_FACTS.calls,
): Promise<HealthCheck[]> {
  const instances = await dataSource.getRepository(InstanceEntity).find({
    relations: { certificate: true },
    order: { systemName: 'ASC' },
  });
  if (instances.length === 0) return [];
  const licenses = await licenseFacts(dataSource, now);
  const checks: HealthCheck[] = [];
  for (const instance of instances) {
    const catalog = await catalogFacts(dataSource, instance.id);
    checks.push(
      instanceCheck(instance, now, {
        ...catalog,
        licenses: licenses.get(instance.id) ?? NO_FACTS.licenses,
        calls: calls(instance.id),
      }),
    );
  }
  return checks;
}

async function licenseFacts(
  dataSource: DataSource,
  now: Date,
): Promise<Map<string, InstanceHealthFacts['licenses']>> {
  const repo = dataSource.getRepository(LicenseEntity);
  const cutoff = new Date(now.getTime() - UNSYNCHRONISED_OVERDUE_MS);
  const failed = await repo
    .createQueryBuilder('l')
    .select('l.instanceId', 'instanceId')
    .addSelect('l.provisioningErrorCode', 'code')
    .addSelect('COUNT(*)', 'count')
    .where('l.provisioningStatus = :status', { status: 'Failed' })
    .groupBy('l.instanceId')
    .addGroupBy('l.provisioningErrorCode')
    .getRawMany<{ instanceId: string; code: string | null; count: string | number }>();
  const overdue = await repo
    .createQueryBuilder('l')
    .select('l.instanceId', 'instanceId')
    .addSelect('COUNT(*)', 'count')
    .where('l.provisioningStatus = :status', { status: 'Unsynchronised' })
    .andWhere('l.createdAt < :cutoff', { cutoff })
    .groupBy('l.instanceId')
    .getRawMany<{ instanceId: string; count: string | number }>();

  const byInstance = new Map<string, InstanceHealthFacts['licenses']>();
  const entry = (instanceId: string) => {
    let facts = byInstance.get(instanceId);
    if (!facts) {
      facts = { failed: 0, failedByCode: {}, overdue: 0, oldestOverdue: null };
      byInstance.set(instanceId, facts);
    }
    return facts;
  };
  for (const row of failed) {
    const facts = entry(row.instanceId);
    const count = Number(row.count);
    facts.failed += count;
    const code = row.code ?? 'UNKNOWN';
    facts.failedByCode[code] = (facts.failedByCode[code] ?? 0) + count;
  }
  for (const row of overdue) {
    const facts = entry(row.instanceId);
    facts.overdue = Number(row.count);
    facts.oldestOverdue = await repo.findOne({
      select: { id: true, createdAt: true },
      where: {
        instanceId: row.instanceId,
        provisioningStatus: 'Unsynchronised',
        createdAt: LessThan(cutoff),
      },
      order: { createdAt: 'ASC' },
    });
  }
  return byInstance;
}

async function catalogFacts(
  dataSource: DataSource,
  instanceId: string,
): Promise<Pick<InstanceHealthFacts, 'lastCatalogRun' | 'lastSucceededCatalogRunAt'>> {
  const runs = dataSource.getRepository(CatalogRunEntity);
  // Only the columns shown: a run's log and result lists can be large.
  const lastCatalogRun = await runs.findOne({
    select: {
      id: true,
      trigger: true,
      status: true,
      progress: true,
      startedAt: true,
      finishedAt: true,
      error: true,
      createdAt: true,
      updatedAt: true,
    },
    where: { instanceId },
    order: { createdAt: 'DESC' },
  });
  if (!lastCatalogRun || lastCatalogRun.status === 'succeeded') {
    return { lastCatalogRun, lastSucceededCatalogRunAt: lastCatalogRun?.finishedAt ?? null };
  }
  const succeeded = await runs.findOne({
    select: { id: true, finishedAt: true },
    where: { instanceId, status: 'succeeded' },
    order: { createdAt: 'DESC' },
  });
  return { lastCatalogRun, lastSucceededCatalogRunAt: succeeded?.finishedAt ?? null };
}

type Problem = { level: 'warn' | 'fail'; sentence: string };

export function instanceCheck(
  instance: InstanceEntity,
  now: Date,
  facts: InstanceHealthFacts = NO_FACTS,
): HealthCheck {
  const name = `instance:${instance.systemName}`;
  const certificate = instance.certificate ?? null;
  const expiresInDays = certificate
    ? Math.floor((certificate.expiresAt.getTime() - now.getTime()) / DAY_MS)
    : null;
  const run = facts.lastCatalogRun;
  const data = {
    instanceId: instance.id,
    state: instance.state,
    certificateExpiresAt: certificate?.expiresAt.toISOString() ?? null,
    certificateExpiresInDays: expiresInDays,
    lastConnectionTest:
      instance.lastConnectionTestOk === null
        ? null
        : { ok: instance.lastConnectionTestOk, at: instance.lastConnectionTestAt?.toISOString() ?? null },
    credentials: credentialsOf(instance, facts.calls),
    lastCatalogRun: run
      ? {
          id: run.id,
          trigger: run.trigger,
          status: run.status,
          progress: run.progress,
          createdAt: run.createdAt.toISOString(),
          startedAt: run.startedAt?.toISOString() ?? null,
          finishedAt: run.finishedAt?.toISOString() ?? null,
          error: run.error,
        }
      : null,
    lastSucceededCatalogRunAt: facts.lastSucceededCatalogRunAt?.toISOString() ?? null,
    licenses: {
      failed: facts.licenses.failed,
      failedByCode: facts.licenses.failedByCode,
      unsynchronisedOverdue: facts.licenses.overdue,
      oldestUnsynchronisedSince: facts.licenses.oldestOverdue?.createdAt.toISOString() ?? null,
      overdueAfterMinutes: UNSYNCHRONISED_OVERDUE_MS / 60_000,
    },
  };

  const label = `Instance ${instance.systemName}`;
  const problems: Problem[] = [
    ...(instance.state === 'disabled' ? [] : settingsProblems(instance, now, label, data.credentials)),
    ...(instance.state === 'disabled' ? [] : catalogProblems(facts, now, label)),
    ...licenseProblems(instance, facts.licenses, label),
  ];
  if (problems.length === 0) return { name, status: 'ok', data };
  return {
    name,
    status: problems.some((p) => p.level === 'fail') ? 'fail' : 'warn',
    message: problems.map((p) => p.sentence).join(' '),
    data,
  };
}

interface CredentialsView {
  /** Whether the most recent evidence says the credentials work; null when there is none. */
  valid: boolean | null;
  /** Where that evidence comes from. */
  evidence: 'connection-test' | 'cis-call' | null;
  /** The last time they were shown to work: a passing connection test, or a CIS call answered 2xx on this node. */
  lastVerifiedAt: string | null;
  /** The last CIS call on this node answered 401 (the API refused the access token). */
  lastRefusedAt: string | null;
}

function credentialsOf(instance: InstanceEntity, calls: CisCallEvidence): CredentialsView {
  const evidence: Array<{ at: Date; ok: boolean; source: 'connection-test' | 'cis-call' }> = [];
  if (instance.lastConnectionTestOk !== null && instance.lastConnectionTestAt) {
    evidence.push({
      at: instance.lastConnectionTestAt,
      ok: instance.lastConnectionTestOk,
      source: 'connection-test',
    });
  }
  if (calls.succeededAt) evidence.push({ at: calls.succeededAt, ok: true, source: 'cis-call' });
  if (calls.refusedAt) evidence.push({ at: calls.refusedAt, ok: false, source: 'cis-call' });
  const latest = evidence.reduce<(typeof evidence)[number] | null>(
    (best, e) => (best === null || e.at.getTime() >= best.at.getTime() ? e : best),
    null,
  );
  const verified = evidence
    .filter((e) => e.ok)
    .reduce<Date | null>((best, e) => (best === null || e.at > best ? e.at : best), null);
  return {
    valid: latest?.ok ?? null,
    evidence: latest?.source ?? null,
    lastVerifiedAt: verified?.toISOString() ?? null,
    lastRefusedAt: calls.refusedAt?.toISOString() ?? null,
  };
}

function settingsProblems(
  instance: InstanceEntity,
  now: Date,
  label: string,
  credentials: CredentialsView,
): Problem[] {
  const problems: Problem[] = [];
  const certificate = instance.certificate ?? null;
  if (certificate) {
    const day = certificate.expiresAt.toISOString().slice(0, 10);
    const days = Math.floor((certificate.expiresAt.getTime() - now.getTime()) / DAY_MS);
    if (certificate.expiresAt.getTime() <= now.getTime()) {
      problems.push({
        level: 'fail',
        sentence: `${label}: its certificate expired on ${day}, so Microsoft refuses every sign-in. Upload the renewed certificate (PATCH the instance) and run the connection test.`,
      });
    } else if (days <= CERTIFICATE_WARN_DAYS) {
      problems.push({
        level: 'warn',
        sentence: `${label}: its certificate expires on ${day} (in ${days} day${days === 1 ? '' : 's'}). Register a renewed certificate with Microsoft and upload it before then.`,
      });
    }
  }
  if (instance.lastConnectionTestOk === false) {
    problems.push({
      level: 'warn',
      sentence: `${label}: the last connection test failed${instance.lastConnectionTestMessage ? ` — ${instance.lastConnectionTestMessage.replace(/\.$/, '')}` : ''}. Fix the setting named and test again.`,
    });
  } else if (instance.state === 'draft') {
    const missing = [
      ...(certificate ? [] : ['upload the certificate']),
      ...(instance.country && instance.language ? [] : ['choose the country and language']),
      ...(instance.lastConnectionTestOk === true ? [] : ['run the connection test']),
    ];
    problems.push({
      level: 'warn',
      sentence: `${label} is a draft and sells nothing yet: ${missing.join(', ')}.`,
    });
  } else if (credentials.valid === false && credentials.evidence === 'cis-call') {
    problems.push({
      level: 'warn',
      sentence: `${label}: Microsoft refused its access token at ${credentials.lastRefusedAt} (HTTP 401) and no call has succeeded since. Check that the app registration still has the CIS API permission and the channel, then run the connection test.`,
    });
  }
  return problems;
}

function catalogProblems(facts: InstanceHealthFacts, now: Date, label: string): Problem[] {
  const run = facts.lastCatalogRun;
  if (!run) return [];
  if (run.status === 'failed') {
    const since = facts.lastSucceededCatalogRunAt
      ? `the catalog is as of the run that succeeded on ${facts.lastSucceededCatalogRunAt.toISOString()}`
      : 'no run has succeeded yet';
    const reason = run.error ? ` (${truncate(run.error.replace(/\.$/, ''), 300)})` : '';
    return [
      {
        level: 'warn',
        sentence: `${label}: the last Get Services Definition run (${run.id}, ${run.trigger}) failed${reason}; ${since}. Read the run's log (GET /esd/instances/:id/services-definition/runs/${run.id}), fix the cause and start a new run.`,
      },
    ];
  }
  const still = now.getTime() - run.updatedAt.getTime();
  if ((run.status === 'queued' || run.status === 'running') && still > CATALOG_RUN_STILL_MS) {
    return [
      {
        level: 'warn',
        sentence: `${label}: Get Services Definition run ${run.id} is ${run.status} at ${run.progress}% and has not moved since ${run.updatedAt.toISOString()}. Check that a worker node is running and reaches Redis; the sweeper fails a run it cannot resume.`,
      },
    ];
  }
  return [];
}

function licenseProblems(
  instance: InstanceEntity,
  licenses: InstanceHealthFacts['licenses'],
  label: string,
): Problem[] {
  const problems: Problem[] = [];
  if (licenses.overdue > 0 && licenses.oldestOverdue) {
    const n = licenses.overdue;
    problems.push({
      level: 'fail',
      sentence: `${label}: ${n} license${n === 1 ? ' has' : 's have'} waited for a key longer than ${UNSYNCHRONISED_OVERDUE_MS / 60_000} minutes (the oldest, ${licenses.oldestOverdue.id}, since ${licenses.oldestOverdue.createdAt.toISOString()}). Provisioning is not getting through: check that a worker node is running, Redis is reachable and Microsoft answers (the queue depths and the CIS call logs say which).`,
    });
  }
  if (licenses.failed > 0) {
    const n = licenses.failed;
    const codes = Object.entries(licenses.failedByCode)
      .sort(([, a], [, b]) => b - a)
      .map(([code, count]) => `${count} × ${code}`)
      .join(', ');
    problems.push({
      level: 'warn',
      sentence: `${label}: ${n} license${n === 1 ? ' is' : 's are'} Failed (${codes}); their customers have no key. Read the errors (GET /esd/licenses?instanceId=${instance.id}&provisioningStatus=Failed), fix the cause, then re-sync each (POST /esd/licenses/:id/resync).`,
    });
  }
  return problems;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
