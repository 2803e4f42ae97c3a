/**
 * `npm run test:chaos` (`node dist/bench/chaos.js [--licenses N] [--kills K] [--concurrency C]`): the chaos run of
 * `bench/chaos-run.ts` at full size (1,000 licenses by default). Needs PostgreSQL and Redis (test/support/services.ts)
 * and `npm run build`. Prints the figures and exits non-zero when a check fails.
 */
import { formatChaosReport, runChaos } from './chaos-run';

function numberArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: expected a positive integer`);
  return value;
}

async function main(): Promise<void> {
  const report = await runChaos({
    licenses: numberArg('licenses', 1000),
    kills: numberArg('kills', 3),
    concurrency: numberArg('concurrency', 8),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`${formatChaosReport(report).join('\n')}\n`);
  const failed = report.checks.filter((c) => !c.ok);
  process.exit(failed.length === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(2);
});
