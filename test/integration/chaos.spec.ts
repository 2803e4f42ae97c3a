/**
 * The chaos run (bench/chaos-run.ts, `npm run test:chaos` at full size) at CI size: 150 licenses ordered through the
 * reference host's order pipeline while the sandbox faults the token routes, a worker process is SIGKILLed and
 * restarted twice and Redis is flushed once; every figure checked. The plugin recovers on its own — the flush's lost
 * jobs wait for the workers' minutely sweeper — so the run takes a few minutes. Needs PostgreSQL, Redis and `npm run build` (the workers are
 * `dist/bench/chaos-worker.js`).
 */
import { formatChaosReport, runChaos } from '../../bench/chaos-run';

const LICENSES = 150;

describe('Chaos at CI size (PostgreSQL, Redis, two worker processes)', () => {
  it(`${LICENSES} licenses through faults, SIGKILLs and a Redis flush: all Synchronized, one token and one welcome each`, async () => {
    const report = await runChaos({ licenses: LICENSES, kills: 2, convergeTimeoutMs: 420_000 });
    process.stdout.write(`${formatChaosReport(report).join('\n')}\n`);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.synchronized).toBe(LICENSES);
    expect(report.tokensCreated).toBe(LICENSES);
    expect(report.welcomeNotifications).toBe(LICENSES);
    expect(Object.keys(report.hostAnswers).every((answer) => answer.startsWith('201 '))).toBe(true);
  }, 540_000);
});
