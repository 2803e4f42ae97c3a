import { isSecretFieldName, REDACTED, redact, SECRET_FIELD_NAMES } from '../../src/common/logging/redact';

describe('redact', () => {
  it('replaces every secret-named field, at any depth, whatever its case or separators', () => {
    const input = {
      licenseId: 'L1',
      productKey: 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE',
      customer: { name: 'Anna', password: 'hunter2', nested: [{ ACCESS_TOKEN: 'eyJ.x.y' }] },
      headers: { Authorization: 'Bearer eyJ.a.b', 'MS-CorrelationId': 'c-1' },
      certificate: {
        pem: '-----BEGIN CERTIFICATE-----',
        'private-key-pem': 'KEY',
        pfxBase64: 'MII',
        pfxPassword: 'p',
      },
      client_assertion: 'jwt',
      activationLink: 'https://example.test/redeem?x',
      secretKey: 'base64key',
      token: { value: 'whole object goes' },
    };
    expect(redact(input)).toEqual({
      licenseId: 'L1',
      productKey: REDACTED,
      customer: { name: 'Anna', password: REDACTED, nested: [{ ACCESS_TOKEN: REDACTED }] },
      headers: { Authorization: REDACTED, 'MS-CorrelationId': 'c-1' },
      certificate: {
        pem: '-----BEGIN CERTIFICATE-----',
        'private-key-pem': REDACTED,
        pfxBase64: REDACTED,
        pfxPassword: REDACTED,
      },
      client_assertion: REDACTED,
      activationLink: REDACTED,
      secretKey: REDACTED,
      token: REDACTED,
    });
    // The input is left as it was.
    expect(input.productKey).toBe('AAAAA-BBBBB-CCCCC-DDDDD-EEEEE');
    expect(input.headers.Authorization).toBe('Bearer eyJ.a.b');
  });

  it('judges by name, never by value: a key-shaped value under an innocent name stays, names that merely contain a secret word stay', () => {
    const value = {
      note: 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE',
      tokenStatus: 'Activated',
      tokenLastGroup: 'EEEEE',
      tokenMasked: '*****-*****-*****-*****-EEEEE',
      passwordSet: true,
    };
    expect(redact(value)).toEqual(value);
  });

  it('walks errors (their own fields too), maps and class instances; cuts cycles; keeps dates and primitives', () => {
    class Settings {
      constructor(
        readonly clientId: string,
        readonly privateKeyPem: string,
      ) {}
    }
    const error = Object.assign(new Error('request failed'), {
      config: { headers: { authorization: 'Bearer secret' }, url: '/tokens' },
    });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const at = new Date('2025-01-02T03:04:05Z');
    const out = redact({
      error,
      map: new Map<string, unknown>([
        ['accessToken', 'x'],
        ['route', '/r'],
      ]),
      settings: new Settings('client-1', 'KEY'),
      cyclic,
      at,
      n: 3,
      nothing: null,
    }) as Record<string, unknown>;
    expect(out.error).toMatchObject({
      name: 'Error',
      message: 'request failed',
      config: { headers: { authorization: REDACTED }, url: '/tokens' },
    });
    expect(out.map).toEqual({ accessToken: REDACTED, route: '/r' });
    expect(out.settings).toEqual({ clientId: 'client-1', privateKeyPem: REDACTED });
    expect(out.cyclic).toEqual({ name: 'loop', self: '[circular]' });
    expect(out.at).toBe(at);
    expect(out.n).toBe(3);
    expect(out.nothing).toBeNull();
    expect(redact('a string')).toBe('a string');
    expect(JSON.stringify(out)).not.toMatch(/secret|KEY|Bearer/);
  });

  it('keeps a `__proto__` key as a field instead of a prototype', () => {
    const hostile = JSON.parse('{"__proto__": {"password": "p", "polluted": true}}') as object;
    const out = redact(hostile) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"__proto__":{"password":"[redacted]","polluted":true}}');
  });

  it('knows every name of the contract', () => {
    for (const name of [
      'productKey',
      'token',
      'accessToken',
      'activationLink',
      'privateKeyPem',
      'pfxBase64',
      'password',
      'pfxPassword',
      'secretKey',
      'authorization',
      'clientAssertion',
    ]) {
      expect(SECRET_FIELD_NAMES).toContain(name);
      expect(isSecretFieldName(name.toUpperCase())).toBe(true);
    }
    expect(isSecretFieldName('correlationId')).toBe(false);
  });
});
