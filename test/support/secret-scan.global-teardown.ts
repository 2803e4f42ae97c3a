/**
 * The secret scan (issue 9 item 4), once every test file ran: reads what the test processes captured
 * (`secret-capture.ts`) and fails the run, naming the capture file, the kind of secret and a redacted excerpt, if
 * a private key, a PFX, its password, an access token or a full product key appears anywhere but in reveal and
 * the welcome notification (which are not captured). A thrown error here makes `jest` exit non-zero.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeCapture, SCAN_DIR_ENV } from './secret-capture';
import { formatScanReport, scanCaptureDir } from './secret-scan';

const ROOT = path.resolve(__dirname, '..', '..');

export default async function secretScanGlobalTeardown(): Promise<void> {
  const dir = process.env[SCAN_DIR_ENV];
  if (!dir) return;
  // Run in band, this process is a test process too: its capture ends before its files are read.
  closeCapture();
  const report = await scanCaptureDir(dir, { relativeTo: ROOT });
  // The registered values are secrets themselves: kept only to scan a failed run's capture again.
  if (report.findings.length === 0) {
    for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.secrets'))) {
      fs.rmSync(path.join(dir, name), { force: true });
    }
  }
  const message = formatScanReport(report);
  if (report.findings.length > 0) {
    throw new Error(`${message}\n  (captured output: ${path.relative(ROOT, dir)})`);
  }
  process.stderr.write(`${message}\n`);
}
