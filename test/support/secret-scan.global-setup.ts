/**
 * The suite's global setup with the secret scan's run directory: every test process (and every child they start)
 * captures into `test-output/secret-scan/<runId>/`, which `secret-scan.global-teardown.ts` scans at the end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import globalSetup from './global-setup';
import { SCAN_DIR_ENV, SCAN_PARENT_PID_ENV } from './secret-capture';

const ROOT = path.resolve(__dirname, '..', '..');
export const SCAN_ROOT = path.join(ROOT, 'test-output', 'secret-scan');
/** Capture directories older than this are removed (a run's is kept for a look after it, not for ever). */
const KEEP_MS = 24 * 3_600_000;

export default async function secretScanGlobalSetup(): Promise<void> {
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${process.pid}`;
  const dir = path.join(SCAN_ROOT, runId);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env[SCAN_DIR_ENV] = dir;
  process.env[SCAN_PARENT_PID_ENV] = String(process.pid);
  pruneOldRuns(dir);
  await globalSetup();
}

function pruneOldRuns(current: string): void {
  for (const name of fs.readdirSync(SCAN_ROOT)) {
    const dir = path.join(SCAN_ROOT, name);
    if (dir === current) continue;
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs > KEEP_MS) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another run removed it first.
    }
  }
}
