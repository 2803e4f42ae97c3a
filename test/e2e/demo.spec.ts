import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** `npm run demo` is the README's first command: it must tell the story and exit 0, printing no secret. */
describe('npm run demo (compiled, as the README runs it)', () => {
  it('tells the story end to end and exits 0', () => {
    const root = path.resolve(__dirname, '../..');
    const run = spawnSync(process.execPath, [path.join(root, 'dist/sandbox/demo.js')], {
      cwd: root,
      encoding: 'utf8',
      timeout: 90_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status).toBe(0);
    expect(output).toContain('the instance is now ready');
    expect(output).toContain('409 CLIENT_ID_COUNTRY_CONFLICT');
    expect(output).toContain('422 CONNECTION_FAILED');
    expect(output).toMatch(/succeeded: 240 new, 0 updated, 0 discontinued, 0 unchanged, 0 skipped/);
    expect(output).toMatch(/succeeded: 2 new, 1 updated, 2 discontinued, 236 unchanged, 1 skipped/);
    expect(output).toMatch(/\(updated\) — still €149\.00, active true/);
    expect(output).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
  });
});
