import { Injectable } from '@nestjs/common';
import type { CisCallRecord } from '../cis/cis-http';

/** What this node last heard from the CIS API for one instance. */
export interface CisCallEvidence {
  /** The last call answered 2xx: the access token (so the credentials) worked. */
  succeededAt: Date | null;
  /** The last call answered 401: the API refused the access token. */
  refusedAt: Date | null;
}

/**
 * Remembers, per instance, when this node's CIS calls last succeeded or had their access token refused — evidence
 * for health that the credentials work, fresher than the last connection test. It is this process's view since it
 * started: another node keeps its own.
 */
@Injectable()
export class CisCallTracker {
  private readonly byInstance = new Map<string, CisCallEvidence>();

  /** For `CisClientOptions.observe`. */
  readonly record = (call: CisCallRecord): void => {
    if (call.instanceId === undefined) return;
    const ok = /^2\d\d$/.test(call.outcome);
    if (!ok && call.outcome !== '401') return;
    const evidence = this.byInstance.get(call.instanceId) ?? { succeededAt: null, refusedAt: null };
    if (ok) evidence.succeededAt = new Date();
    else evidence.refusedAt = new Date();
    this.byInstance.set(call.instanceId, evidence);
  };

  of(instanceId: string): CisCallEvidence {
    return { ...(this.byInstance.get(instanceId) ?? { succeededAt: null, refusedAt: null }) };
  }
}
