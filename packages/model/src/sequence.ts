import { checkAll, settle, type RunStats, type Violation } from './check';
import type { Command } from './commands';
import { restoreSteadyState, runCommand, startSystem, stopSystem, type RunSettings } from './runner';

/** What one sequence run found. */
export interface SequenceResult {
  violations: Violation[];
  stats: RunStats;
  narration: string[];
  /** Run directory (worker logs), kept when the sequence failed or `keep` was set. */
  runDir: string;
  ms: number;
}

/**
 * Run one command sequence against a fresh redis-server and fresh worker processes, bring the
 * system back to a steady state, wait for quiescence (bounded), and check every invariant.
 */
export async function runSequence(cmds: readonly Command[], settings: RunSettings): Promise<SequenceResult> {
  const t0 = Date.now();
  const sys = await startSystem(settings);
  let failed = true;
  try {
    for (const cmd of cmds) await runCommand(sys, cmd);
    await restoreSteadyState(sys);
    const settled = await settle(sys);
    const { violations, stats } = await checkAll(sys, settled);
    failed = violations.length > 0;
    return { violations, stats, narration: sys.narration, runDir: sys.runDir, ms: Date.now() - t0 };
  } finally {
    await stopSystem(sys, failed || settings.keep);
  }
}

/** A failure report: the violations, what the driver did, and the model's counts. */
export function describeResult(r: SequenceResult): string {
  return [
    `${r.violations.length} violation(s):`,
    ...r.violations.map((x) => `  [${x.check}] ${x.detail}${x.hint ? `\n      looks like: ${x.hint}` : ''}`),
    `stats: ${JSON.stringify(r.stats)} in ${(r.ms / 1000).toFixed(1)} s`,
    'narration:',
    ...r.narration.map((l) => `  ${l}`),
    `worker logs: ${r.runDir}`,
  ].join('\n');
}
