import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { EsdErrorCode } from '../common/error-codes';
import { EsdError } from '../common/esd-error';
import { ESD_OPTIONS } from '../constants';
import type { ResolvedEsdOptions } from '../microsoft-esd.options';

/**
 * A secret as stored: the sealed envelope and the id of the key that sealed it. The two travel together (two
 * columns of one row), so a value can always be opened by the key that made it, and a re-seal can find the
 * values an old key still holds.
 */
export interface SealedValue {
  /** Base64 of the envelope `version (1 byte) ‖ IV (12) ‖ GCM tag (16) ‖ AES-256-GCM ciphertext`. */
  ciphertext: string;
  /** {@link sealingKeyId} of the key that sealed it. */
  keyId: string;
}

const ENVELOPE_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;
/** Domain separation: the key id is a hash of this label and the key, never of the key alone. */
const KEY_ID_LABEL = 'microsoft-esd/sealing-key-id/v1\0';

/**
 * The public id of a sealing key: the first 16 hex digits of SHA-256 over a fixed label and the key. Safe to
 * store and log; the same key gives the same id on every node and after every restart.
 */
export function sealingKeyId(key: Buffer): string {
  return createHash('sha256').update(KEY_ID_LABEL).update(key).digest('hex').slice(0, 16);
}

/**
 * Seals secrets at rest with AES-256-GCM under the host's `secretKey`, and opens values sealed under it or any of
 * `previousSecretKeys` (key rotation: see docs/secrets.md). Every failure to open is loud and names the key id,
 * never the data.
 */
@Injectable()
export class SecretSealer {
  /** Id of the key every new value is sealed with. */
  readonly currentKeyId: string;
  private readonly currentKey: Buffer;
  private readonly keys = new Map<string, Buffer>();

  constructor(@Inject(ESD_OPTIONS) options: Pick<ResolvedEsdOptions, 'secretKey' | 'previousSecretKeys'>) {
    this.currentKey = options.secretKey;
    this.currentKeyId = sealingKeyId(options.secretKey);
    for (const key of [options.secretKey, ...options.previousSecretKeys]) {
      this.keys.set(sealingKeyId(key), key);
    }
  }

  seal(plaintext: string): SealedValue {
    const iv = randomBytes(IV_BYTES);
    const header = Buffer.from([ENVELOPE_VERSION]);
    const cipher = createCipheriv('aes-256-gcm', this.currentKey, iv, { authTagLength: TAG_BYTES });
    // The version byte is authenticated too: an envelope cannot be relabelled as another format.
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return {
      ciphertext: Buffer.concat([header, iv, cipher.getAuthTag(), body]).toString('base64'),
      keyId: this.currentKeyId,
    };
  }

  /** @throws EsdError `SEALED_SECRET_UNREADABLE` for an unknown key id, a foreign envelope, or a changed value. */
  open(value: SealedValue): string {
    const key = this.keys.get(value.keyId);
    if (key === undefined) {
      throw unreadable(
        value.keyId,
        `A sealed secret could not be opened: it was sealed with key id ${value.keyId}, which is not configured ` +
          `(configured: ${[...this.keys.keys()].join(', ')}). Add the key that made it to previousSecretKeys and restart.`,
      );
    }
    const envelope = Buffer.from(value.ciphertext, 'base64');
    if (envelope.length < HEADER_BYTES || envelope[0] !== ENVELOPE_VERSION) {
      throw unreadable(
        value.keyId,
        `A sealed secret under key id ${value.keyId} could not be opened: it is not a sealed envelope this version ` +
          'of the plugin knows, so the stored value was changed or damaged.',
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', key, envelope.subarray(1, 1 + IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(envelope.subarray(0, 1));
    decipher.setAuthTag(envelope.subarray(1 + IV_BYTES, HEADER_BYTES));
    try {
      return Buffer.concat([decipher.update(envelope.subarray(HEADER_BYTES)), decipher.final()]).toString(
        'utf8',
      );
    } catch (error) {
      throw unreadable(
        value.keyId,
        `A sealed secret under key id ${value.keyId} failed its integrity check: the stored value was changed ` +
          'or damaged (the key with this id is configured). Upload or re-create the secret.',
        error,
      );
    }
  }

  isCurrent(keyId: string): boolean {
    return keyId === this.currentKeyId;
  }
}

function unreadable(keyId: string, message: string, cause?: unknown): EsdError {
  // The cause is OpenSSL's "unable to authenticate data": it carries no data, only the failure.
  return new EsdError(EsdErrorCode.SEALED_SECRET_UNREADABLE, message, { keyId }, { cause });
}
