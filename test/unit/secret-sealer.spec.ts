import { createHash, randomBytes } from 'node:crypto';
import { EsdErrorCode } from '../../src/common/error-codes';
import { EsdError } from '../../src/common/esd-error';
import { SecretSealer, sealingKeyId, type SealedValue } from '../../src/settings/secret-sealer';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const sealer = (secretKey: Buffer, previousSecretKeys: Buffer[] = []) =>
  new SecretSealer({ secretKey, previousSecretKeys });

/** The error `open` throws, so its code, message and details can all be checked. */
function openError(s: SecretSealer, value: SealedValue): EsdError {
  try {
    s.open(value);
  } catch (error) {
    if (error instanceof EsdError) return error;
    throw error;
  }
  throw new Error('open() did not fail');
}

/** Flips one bit of the envelope at `index` (negative: from the end). */
function flip(value: SealedValue, index: number): SealedValue {
  const bytes = Buffer.from(value.ciphertext, 'base64');
  bytes[index < 0 ? bytes.length + index : index] ^= 0x01;
  return { ...value, ciphertext: bytes.toString('base64') };
}

const SECRET = 'NKJFK-GPHP7-G8C3J-P6JXR-HQRJR — ключ ✓';

describe('SecretSealer', () => {
  it('opens what it sealed, UTF-8 included, and labels it with the current key id', () => {
    const s = sealer(keyA);
    const sealed = s.seal(SECRET);
    expect(sealed.keyId).toBe(s.currentKeyId);
    expect(s.open(sealed)).toBe(SECRET);
    expect(s.open(s.seal(''))).toBe('');
  });

  it('derives the key id from the key (16 hex digits of SHA-256 over a label and the key), never the key itself', () => {
    const s = sealer(keyA);
    expect(s.currentKeyId).toMatch(/^[0-9a-f]{16}$/);
    expect(s.currentKeyId).toBe(sealingKeyId(keyA));
    expect(sealer(Buffer.from(keyA)).currentKeyId).toBe(s.currentKeyId);
    expect(sealer(keyB).currentKeyId).not.toBe(s.currentKeyId);
    // Not a bare hash of the key, and no slice of the key.
    expect(s.currentKeyId).not.toBe(createHash('sha256').update(keyA).digest('hex').slice(0, 16));
    expect(keyA.toString('hex')).not.toContain(s.currentKeyId);
    expect(s.isCurrent(s.currentKeyId)).toBe(true);
    expect(s.isCurrent(sealingKeyId(keyB))).toBe(false);
  });

  it('writes a versioned envelope: version 1, 12-byte IV, 16-byte tag, then the ciphertext', () => {
    const sealed = sealer(keyA).seal('abc');
    const envelope = Buffer.from(sealed.ciphertext, 'base64');
    expect(envelope[0]).toBe(1);
    expect(envelope.length).toBe(1 + 12 + 16 + 3);
    expect(envelope.toString('latin1')).not.toContain('abc');
  });

  it('uses a fresh random IV: the same plaintext seals to different ciphertexts', () => {
    const s = sealer(keyA);
    const seen = new Set(Array.from({ length: 20 }, () => s.seal(SECRET).ciphertext));
    expect(seen.size).toBe(20);
    const ivs = new Set([...seen].map((c) => Buffer.from(c, 'base64').subarray(1, 13).toString('hex')));
    expect(ivs.size).toBe(20);
  });

  it('refuses a changed value anywhere in the envelope (version, IV, tag, ciphertext), naming the key id', () => {
    const s = sealer(keyA);
    const sealed = s.seal(SECRET);
    for (const index of [0, 1, 12, 13, 28, 29, -1]) {
      const error = openError(s, flip(sealed, index));
      expect(error.code).toBe(EsdErrorCode.SEALED_SECRET_UNREADABLE);
      expect(error.httpStatus).toBe(500);
      expect(error.message).toContain(s.currentKeyId);
      expect(error.details).toEqual({ keyId: s.currentKeyId });
    }
    const truncated = { ...sealed, ciphertext: sealed.ciphertext.slice(0, 20) };
    expect(openError(s, truncated).code).toBe(EsdErrorCode.SEALED_SECRET_UNREADABLE);
  });

  it('opens values sealed under a previous key, and seals new ones under the current key', () => {
    const underA = sealer(keyA).seal(SECRET);
    const rotated = sealer(keyB, [keyA]);
    expect(rotated.open(underA)).toBe(SECRET);
    expect(rotated.isCurrent(underA.keyId)).toBe(false);
    const underB = rotated.seal(SECRET);
    expect(underB.keyId).toBe(sealingKeyId(keyB));
    expect(sealer(keyB).open(underB)).toBe(SECRET);
  });

  it('fails loudly for a key id that is not configured, naming it and the configured ones', () => {
    const underA = sealer(keyA).seal(SECRET);
    const error = openError(sealer(keyB), underA);
    expect(error.code).toBe(EsdErrorCode.SEALED_SECRET_UNREADABLE);
    expect(error.message).toContain(`key id ${underA.keyId}, which is not configured`);
    expect(error.message).toContain(sealingKeyId(keyB));
    expect(error.message).toContain('previousSecretKeys');
  });

  it('fails loudly when the key under a known id is not the key that sealed (the id column was changed)', () => {
    const underA = sealer(keyA).seal(SECRET);
    const relabelled = { ...underA, keyId: sealingKeyId(keyB) };
    const error = openError(sealer(keyB, [keyA]), relabelled);
    expect(error.code).toBe(EsdErrorCode.SEALED_SECRET_UNREADABLE);
    expect(error.message).toContain('integrity check');
  });

  it('never puts the plaintext, the ciphertext or a key in an error', () => {
    const s = sealer(keyA);
    const sealed = s.seal(SECRET);
    const errors = [
      openError(sealer(keyB), sealed),
      openError(s, flip(sealed, -1)),
      openError(s, { ...sealed, ciphertext: 'not an envelope' }),
    ];
    for (const error of errors) {
      const shown = `${error.message} ${JSON.stringify(error.details)} ${String(error.cause)} ${error.stack}`;
      expect(shown).not.toContain(SECRET);
      expect(shown).not.toContain('NKJFK');
      expect(shown).not.toContain(sealed.ciphertext.slice(0, 24));
      expect(shown).not.toContain(keyA.toString('base64'));
      expect(shown).not.toContain(keyB.toString('base64'));
    }
  });
});
