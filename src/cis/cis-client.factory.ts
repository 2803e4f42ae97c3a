import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import { type CisConnection, resolveCisConnection } from './cis-connection';
import { CisClient, type CisClientOptions } from './cis-client';

/** Injection token of the {@link CisClientOptions} every client the factory builds gets (optional). */
export const CIS_CLIENT_OPTIONS = Symbol('CIS_CLIENT_OPTIONS');

/**
 * Hands out one {@link CisClient} per connection fingerprint, so MSAL's token cache and the kept-alive
 * sockets survive between calls. When an instance's settings change, its old client is closed and replaced.
 */
@Injectable()
export class CisClientFactory implements OnModuleDestroy {
  private readonly byFingerprint = new Map<string, CisClient>();
  private readonly fingerprintByInstance = new Map<string, string>();

  constructor(@Optional() @Inject(CIS_CLIENT_OPTIONS) private readonly options: CisClientOptions = {}) {}

  /** The client for this connection (validated here; VALIDATION_FAILED names a bad field). */
  forConnection(connection: CisConnection): CisClient {
    const resolved = resolveCisConnection(connection);
    const existing = this.byFingerprint.get(resolved.fingerprint);
    if (existing) return existing;

    const client = new CisClient(resolved, this.options ?? {});
    this.byFingerprint.set(resolved.fingerprint, client);
    if (resolved.instanceId !== undefined) {
      const previous = this.fingerprintByInstance.get(resolved.instanceId);
      if (previous !== undefined && previous !== resolved.fingerprint) this.drop(previous);
      this.fingerprintByInstance.set(resolved.instanceId, resolved.fingerprint);
    }
    return client;
  }

  /** Forgets (and closes) the client of an instance, e.g. when the instance is deleted. */
  forgetInstance(instanceId: string): void {
    const fingerprint = this.fingerprintByInstance.get(instanceId);
    if (fingerprint !== undefined) this.drop(fingerprint);
    this.fingerprintByInstance.delete(instanceId);
  }

  onModuleDestroy(): void {
    for (const client of this.byFingerprint.values()) client.close();
    this.byFingerprint.clear();
    this.fingerprintByInstance.clear();
  }

  private drop(fingerprint: string): void {
    this.byFingerprint.get(fingerprint)?.close();
    this.byFingerprint.delete(fingerprint);
  }
}
