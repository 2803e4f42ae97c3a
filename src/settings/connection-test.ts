import type { CisClient, CisMarket } from '../cis';
import { ERROR_DESCRIPTIONS, EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import type { ConnectionTestResult, ConnectionTestStep, ConnectionTestStepName } from './instance.dto';

/** What a connection test needs to know about the instance; the caller builds the client lazily. */
export interface ConnectionTestInput {
  /** The stored certificate's validity, or null when none is stored yet. */
  certificate: { notBefore: Date; expiresAt: Date } | null;
  /** Builds the CIS client (unseals the key); may throw VALIDATION_FAILED for a bad connection setting. */
  client: () => Promise<CisClient>;
  /** The chosen market, when stage 2 set one. */
  market: { country: string; language: string } | null;
  now: Date;
}

/** True when the markets offer this country in this language. */
export function marketOffered(markets: CisMarket[], country: string, language: string): boolean {
  return markets.some((m) => m.country === country && m.languages.includes(language));
}

/**
 * Runs the connection test's steps in order and stops at the first failure: `certificate` (stored, valid
 * now), `sign-in` (a fresh token, never a cached one), `read` (the markets call, no retry: a test must say
 * what happened on this try), and `market` (the chosen country and language are offered) when one is set.
 * A failed step carries the plugin's code and the sentence an administrator can act on.
 */
export async function runConnectionTest(input: ConnectionTestInput): Promise<ConnectionTestResult> {
  const steps: ConnectionTestStep[] = [];
  const fail = (step: ConnectionTestStepName, code: string, message: string): ConnectionTestResult => {
    steps.push({ step, ok: false, code, message });
    return { ok: false, steps };
  };

  const { certificate, now } = input;
  if (!certificate) {
    return fail(
      'certificate',
      EsdErrorCode.INSTANCE_CERTIFICATE_REQUIRED,
      'No certificate is stored for this instance. Upload the certificate registered with Microsoft for this client ID.',
    );
  }
  if (certificate.expiresAt.getTime() <= now.getTime()) {
    return fail(
      'certificate',
      EsdErrorCode.CERTIFICATE_EXPIRED,
      `The certificate expired on ${certificate.expiresAt.toISOString()}. Upload a renewed certificate and register it with Microsoft.`,
    );
  }
  if (certificate.notBefore.getTime() > now.getTime()) {
    return fail(
      'certificate',
      EsdErrorCode.CERTIFICATE_NOT_YET_VALID,
      `The certificate is not valid before ${certificate.notBefore.toISOString()}. Check this server's clock, or upload a certificate that is valid now.`,
    );
  }
  steps.push({ step: 'certificate', ok: true });

  let client: CisClient;
  try {
    client = await input.client();
    await client.acquireToken({ forceRefresh: true });
  } catch (error) {
    return fail('sign-in', ...describe(error));
  }
  steps.push({ step: 'sign-in', ok: true });

  let markets: CisMarket[];
  try {
    markets = await client.getMarkets({ retry: { maxAttempts: 1 } });
  } catch (error) {
    return fail('read', ...describe(error));
  }
  steps.push({
    step: 'read',
    ok: true,
    message: `Microsoft lists ${markets.length} market${markets.length === 1 ? '' : 's'} for this channel.`,
  });

  if (input.market) {
    const { country, language } = input.market;
    if (!marketOffered(markets, country, language)) {
      return fail(
        'market',
        EsdErrorCode.MARKET_NOT_OFFERED,
        `Microsoft does not offer ${country} in ${language} to this channel (offered: ${describeMarkets(markets)}). Choose a market from the instance's options.`,
      );
    }
    steps.push({ step: 'market', ok: true });
  }
  return { ok: true, steps };
}

/** `GR (el-GR, en-US), IE (en-IE)` — for sentences. */
export function describeMarkets(markets: CisMarket[]): string {
  if (markets.length === 0) return 'none';
  return markets.map((m) => `${m.country} (${m.languages.join(', ')})`).join(', ');
}

function describe(error: unknown): [string, string] {
  if (error instanceof EsdError) return [error.code, error.message];
  return [EsdErrorCode.INTERNAL, ERROR_DESCRIPTIONS[EsdErrorCode.INTERNAL].message];
}
