import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { recordOutput } from '../support/secret-capture';

/** A whole 5x5 product key: the demo must never print one (it masks every key but the last group). */
const FULL_KEY = /[0-9A-Z]{5}(-[0-9A-Z]{5}){4}/;
const MASKED_KEY = /\*{5}-\*{5}-\*{5}-\*{5}-[0-9A-Z]{5}/g;

/** `npm run demo` is the README's first command: it must tell the story and exit 0, printing no secret. */
describe('npm run demo (compiled, as the README runs it)', () => {
  it('tells the story end to end and exits 0', () => {
    const root = path.resolve(__dirname, '../..');
    const run = spawnSync(process.execPath, [path.join(root, 'dist/sandbox/demo.js')], {
      cwd: root,
      encoding: 'utf8',
      timeout: 90_000,
    });
    recordOutput(run.stdout ?? '', `demo ${run.pid} stdout`);
    recordOutput(run.stderr ?? '', `demo ${run.pid} stderr`);
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status).toBe(0);
    expect(run.stderr).not.toContain('The demo failed');

    // Applications Setup and the catalog.
    expect(output).toContain('the instance is now ready');
    expect(output).toContain('409 CLIENT_ID_COUNTRY_CONFLICT');
    expect(output).toContain('422 CONNECTION_FAILED');
    expect(output).toMatch(/succeeded: 240 new, 0 updated, 0 discontinued, 0 unchanged, 0 skipped/);
    expect(output).toMatch(/product 1: \S+ .+ → €149\.00, active, published/);
    expect(output).toMatch(/product 2: \S+ .+ → €249\.00, active, published/);
    expect(output).toContain('2 products on sale');
    expect(output).toMatch(/succeeded: 2 new, 1 updated, 2 discontinued, 236 unchanged, 1 skipped/);
    expect(output).toMatch(/\(updated\) — still €149\.00, active true/);

    // The order of 3 and its invoice: one line per license.
    expect(output).toMatch(/order \S+: 3 × .+ at €149\.00/);
    expect(output).toContain('order of 3 done: 3 licenses Synchronized');
    expect(output.match(/^ {5}.+ {3}license [0-9a-f]{8} {3}€149\.00$/gm)).toHaveLength(3);
    expect(output).toContain('invoice of 3 lines, total €447.00');

    // The licenses and the welcome notifications: keys masked, one notification per license.
    expect(output).toContain('3 welcome notifications');
    expect(output.match(/^ {6}key \*{5}-\*{5}-\*{5}-\*{5}-[0-9A-Z]{5} {3}link /gm)).toHaveLength(3);
    expect(output).toMatch(
      /revealed: \*{5}-\*{5}-\*{5}-\*{5}-[0-9A-Z]{5} \(full key shown to the admin, masked here\)/,
    );
    expect(output).toContain('is the one the masked record shows: yes');
    expect((output.match(MASKED_KEY) ?? []).length).toBeGreaterThanOrEqual(12);
    expect(output).not.toMatch(FULL_KEY);

    // Redeemed at the sandbox, synced by the plugin.
    expect(output).toMatch(/Microsoft: token \S+ is Redeemed/);
    expect(output).toMatch(/license [0-9a-f]{8} is now Redeemed/);

    // The redeemed license cannot be cancelled, and the customer is told why.
    expect(output).toMatch(/eligible no\n\s+TOKEN_REDEEMED: .*redeemed/);
    expect(output).toMatch(/cancellation refused: 422 TOKEN_REDEEMED — .*redeemed/);

    // An unused one is returned, and the credit equals the price paid.
    expect(output).toMatch(/Microsoft took it back: license [0-9a-f]{8} cancelled, token ReturnAccepted/);
    const credit = /credit note \S+: (€[\d.]+), equal to the price paid \((€[\d.]+)\)/.exec(output);
    expect(credit).not.toBeNull();
    expect(credit![1]).toBe('€149.00');
    expect(credit![2]).toBe(credit![1]);
    expect(output).toContain('tokens created: 3, returns: 1');

    expect(output).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    const seconds = Number(/Done in ([\d.]+) s\./.exec(output)?.[1]);
    expect(seconds).toBeLessThan(60);
  });
});
