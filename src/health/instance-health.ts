import type { DataSource } from 'typeorm';
import { InstanceEntity } from '../settings/instance.entity';
import type { HealthCheck } from './health.service';

const DAY_MS = 86_400_000;
/** Days before expiry from which a certificate is reported (the same 30 days the instance view warns at). */
export const CERTIFICATE_WARN_DAYS = 30;

/**
 * One check per instance (`instance:<systemName>`): its state, its certificate's days to expiry (warn within
 * 30 days, fail once expired) and its last connection test, with a sentence per problem. A disabled instance
 * is reported but never counts as a problem: the admin took it out of service on purpose.
 */
export async function instanceHealthChecks(dataSource: DataSource, now: Date): Promise<HealthCheck[]> {
  const instances = await dataSource.getRepository(InstanceEntity).find({
    relations: { certificate: true },
    order: { systemName: 'ASC' },
  });
  return instances.map((instance) => instanceCheck(instance, now));
}

export function instanceCheck(instance: InstanceEntity, now: Date): HealthCheck {
  const name = `instance:${instance.systemName}`;
  const certificate = instance.certificate ?? null;
  const expiresInDays = certificate
    ? Math.floor((certificate.expiresAt.getTime() - now.getTime()) / DAY_MS)
    : null;
  const data = {
    instanceId: instance.id,
    state: instance.state,
    certificateExpiresAt: certificate?.expiresAt.toISOString() ?? null,
    certificateExpiresInDays: expiresInDays,
    lastConnectionTest:
      instance.lastConnectionTestOk === null
        ? null
        : { ok: instance.lastConnectionTestOk, at: instance.lastConnectionTestAt?.toISOString() ?? null },
  };
  if (instance.state === 'disabled') return { name, status: 'ok', data };

  const problems: Array<{ level: 'warn' | 'fail'; sentence: string }> = [];
  const label = `Instance ${instance.systemName}`;
  if (certificate) {
    const day = certificate.expiresAt.toISOString().slice(0, 10);
    if (certificate.expiresAt.getTime() <= now.getTime()) {
      problems.push({
        level: 'fail',
        sentence: `${label}: its certificate expired on ${day}, so Microsoft refuses every sign-in. Upload the renewed certificate (PATCH the instance) and run the connection test.`,
      });
    } else if (expiresInDays !== null && expiresInDays <= CERTIFICATE_WARN_DAYS) {
      problems.push({
        level: 'warn',
        sentence: `${label}: its certificate expires on ${day} (in ${expiresInDays} day${expiresInDays === 1 ? '' : 's'}). Register a renewed certificate with Microsoft and upload it before then.`,
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
  }

  if (problems.length === 0) return { name, status: 'ok', data };
  return {
    name,
    status: problems.some((p) => p.level === 'fail') ? 'fail' : 'warn',
    message: problems.map((p) => p.sentence).join(' '),
    data,
  };
}
