/**
 * Jest `setupFilesAfterEnv` of the secret scan (issue 9 item 4), run before every test file: captures this test
 * process's stdout, stderr and HTTP responses (patched once a process), this file's console, and registers the
 * secret values of every CIS sandbox and test identity made in it; `secret-scan.global-teardown.ts` scans it all
 * once the run is over. Child processes' output is recorded by whoever starts them, with {@link recordOutput}.
 */
import * as path from 'node:path';
import { CisSandbox } from '../../sandbox/cis/cis-sandbox';
import { SandboxState } from '../../sandbox/cis/sandbox-state';
import * as testIdentity from '../../sandbox/cis/test-identity';
import {
  captureConsole,
  installCapture,
  registerSecret,
  SCAN_DIR_ENV,
  setCaptureLabel,
} from './secret-capture';
import { PUBLIC_KIND } from './secret-scan';

export { recordOutput } from './secret-capture';

const ROOT = path.resolve(__dirname, '..', '..');
const WRAPPED = Symbol.for('esd.secret-scan.wrapped');

type Identity = { certificatePem?: string; privateKeyPem?: string };

function registerIdentity(identity: Identity | undefined, what: string): void {
  registerSecret(`${what} private key`, identity?.privateKeyPem);
  registerSecret(PUBLIC_KIND, identity?.certificatePem);
}

/** Replaces `holder[name]` with `wrap(original)`, once per module instance. */
function wrapFunction<T extends object, K extends keyof T>(
  holder: T,
  name: K,
  wrap: (original: T[K]) => T[K],
): void {
  const original = holder[name];
  if (typeof original !== 'function' || (original as Record<symbol, unknown>)[WRAPPED]) return;
  const wrapped = wrap(original);
  Object.defineProperty(wrapped, WRAPPED, { value: true });
  try {
    Object.defineProperty(holder, name, {
      value: wrapped,
      writable: true,
      configurable: true,
      enumerable: true,
    });
  } catch {
    // A frozen export: its values go unregistered, and the patterns still apply.
  }
}

if (process.env[SCAN_DIR_ENV]) {
  installCapture();
  captureConsole(console);

  const file = path.relative(ROOT, expect.getState().testPath ?? 'unknown test file');
  beforeAll(() => setCaptureLabel(file));
  beforeEach(() => setCaptureLabel(`${file} › ${expect.getState().currentTestName ?? ''}`));
  afterEach(() => setCaptureLabel(file));
  afterAll(() => setCaptureLabel(undefined));

  wrapFunction(CisSandbox, 'start', (start) => async (...args: Parameters<typeof start>) => {
    const sandbox = await start.apply(CisSandbox, args);
    const { credentials } = sandbox;
    registerSecret('sandbox PFX', credentials.pfxBase64);
    registerSecret('sandbox PFX password', credentials.pfxPassword);
    registerSecret('sandbox private key', credentials.privateKeyPem);
    registerSecret(PUBLIC_KIND, credentials.certificatePem);
    registerSecret(PUBLIC_KIND, credentials.caPem);
    return sandbox;
  });

  // The sandbox's access tokens are opaque (32 random bytes, base64url): only their values can be looked for.
  wrapFunction(
    SandboxState.prototype,
    'issueAccessToken',
    (issue) =>
      function (this: SandboxState, ...args: Parameters<typeof issue>) {
        const issued = issue.apply(this, args);
        registerSecret('sandbox access token', issued.accessToken);
        return issued;
      },
  );

  // Every identity and PFX a test makes, the sandbox's own included (its CIS client and its TLS keys).
  wrapFunction(testIdentity, 'createClientIdentity', (create) => (...args: Parameters<typeof create>) => {
    const identity = create(...args);
    registerIdentity(identity, 'test identity');
    return identity;
  });
  wrapFunction(
    testIdentity,
    'createClientIdentityAsync',
    (create) =>
      async (...args: Parameters<typeof create>) => {
        const identity = await create(...args);
        registerIdentity(identity, 'test identity');
        return identity;
      },
  );
  wrapFunction(testIdentity, 'createSandboxPki', (create) => async (...args: Parameters<typeof create>) => {
    const pki = await create(...args);
    registerIdentity(pki.ca, 'sandbox CA');
    registerIdentity(pki.server, 'sandbox TLS');
    return pki;
  });
  wrapFunction(testIdentity, 'packPfx', (pack) => (...args: Parameters<typeof pack>) => {
    const packed = pack(...args);
    registerSecret('PFX', packed.pfxBase64);
    registerSecret('PFX password', packed.password);
    return packed;
  });
}
