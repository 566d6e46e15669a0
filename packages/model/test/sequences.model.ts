import fc from 'fast-check';
import { ALL_COMMANDS, describeSequence, sequenceArb, type Command, type CommandName } from '../src/commands';
import { DEFAULT_SETTINGS, type RunSettings } from '../src/runner';
import { describeResult, runSequence } from '../src/sequence';

/**
 * The model-based randomized test (issue 10, "hunt the rest"). Each seed generates one command
 * sequence (fast-check), runs it on a fresh redis-server with real worker processes, and
 * checks the end state against the model. `pnpm test:model --seeds N` (see bin/run.mjs) or:
 *   MODEL_SEEDS=1,2,3            which seeds (default: the CI set)
 *   MODEL_COMMANDS=-destroy      command mix: the default set (every command) minus/plus names (-destroy,-join); names alone: exactly those; `all`
 *   MODEL_SKIP_CHECKS=a,b       do not fail on these checks (known defects not fixed yet); they are counted in the stats
 *   MODEL_PROFILE=harsh         shorter visibility timeout, lower concurrency, 3× the faults and misbehaving handlers
 *   MODEL_SHRINK=1               on failure, let fast-check shrink the sequence (each try is a full run)
 *   MODEL_SEQUENCE='[…]'          run this exact sequence (JSON, as a failure prints it) instead of generating
 *   MODEL_QUIESCE_MS=10000       bound on settling (default 60 s, the CI set 45 s; shorter makes shrinking faster)
 *   MODEL_VERBOSE=1 MODEL_KEEP=1  narrate commands; keep worker logs
 */
/**
 * CI seeds (with every command, `destroy` included): each settles in under 15 s on a loaded 2-core
 * machine but seed 3 (twenty `stuck` handlers of 7.4 s each: 29-30 s); the CI bound is 45 s. Seed 10
 * (four destroys while every worker stalls, two Redis restarts, a hard cap) is back since 2 Dec
 * 07:15, after mechanisms 7-14 of the package README ("What it found"; "The CI set" has its runs).
 */
const CI_SEEDS = [1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 15];
/** Commands every default run uses: all of them (`-destroy` and the like leave some out). */
export const DEFAULT_COMMANDS: readonly CommandName[] = ALL_COMMANDS;
/** Bound on settling for the CI set and MODEL_SEQUENCE replays (runs of chosen seeds: 60 s). */
const CI_QUIESCE_MS = 45_000;

function commandMix(spec: string | undefined): Set<CommandName> {
  const set = new Set<CommandName>(DEFAULT_COMMANDS);
  if (!spec) return set;
  if (spec === 'all') return new Set(ALL_COMMANDS);
  const parts = spec.split(',').map((s) => s.trim()).filter(Boolean);
  // Names alone: exactly these commands; +name / -name: the default set changed.
  if (parts.every((p) => !/^[+-]/.test(p))) set.clear();
  for (const part of parts) {
    const name = part.replace(/^[+-]/, '') as CommandName;
    if (!ALL_COMMANDS.includes(name)) throw new Error(`MODEL_COMMANDS: unknown command "${name}" (known: ${ALL_COMMANDS.join(', ')})`);
    if (part.startsWith('-')) set.delete(name);
    else set.add(name);
  }
  return set;
}

const seeds = process.env.MODEL_SEEDS ? process.env.MODEL_SEEDS.split(',').map(Number) : CI_SEEDS;
const enabled = commandMix(process.env.MODEL_COMMANDS);
/** MODEL_PROFILE=harsh: a 1 s visibility timeout, concurrency 2, three times the faults and misbehaving handlers. */
const profile: Partial<RunSettings> = process.env.MODEL_PROFILE === 'harsh' ? { visibilityTimeoutMs: 1000, concurrency: 2, harshness: 3 } : {};
const settings: RunSettings = {
  ...DEFAULT_SETTINGS,
  ...profile,
  verbose: !!process.env.MODEL_VERBOSE,
  keep: !!process.env.MODEL_KEEP,
  // The CI set settles in under 30 s: bound it (and MODEL_SEQUENCE replays) at 45 s; runs of chosen seeds get 60 s.
  ...(process.env.MODEL_SEEDS ? {} : { quiesceTimeoutMs: CI_QUIESCE_MS }),
  ...(process.env.MODEL_QUIESCE_MS ? { quiesceTimeoutMs: Number(process.env.MODEL_QUIESCE_MS) } : {}),
  skipChecks: (process.env.MODEL_SKIP_CHECKS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
};
const shrink = !!process.env.MODEL_SHRINK;
const fixed = process.env.MODEL_SEQUENCE ? (JSON.parse(process.env.MODEL_SEQUENCE) as Command[]) : undefined;
/** Per sequence: its commands (≤ ~20 s of faults), settling and checking; shrinking takes many runs. */
const PER_SEQUENCE_MS = 150_000;

describe(`model-based sequences (commands: ${[...enabled].join(', ')})`, () => {
  if (fixed) {
    test('the sequence given in MODEL_SEQUENCE', async () => {
      const r = await runSequence(fixed, settings);
      process.stdout.write(`${describeResult(r)}\n`);
      expect(r.violations).toEqual([]);
    }, PER_SEQUENCE_MS);
    return;
  }
  test.each(seeds)('seed %i', async (seed) => {
    let runs = 0;
    const property = fc.asyncProperty(sequenceArb(settings, enabled), async (cmds) => {
      runs++;
      const r = await runSequence(cmds, settings);
      const said = `seed ${seed}, run ${runs}: ${cmds.length} commands\n${describeSequence(cmds)}\n${describeResult(r)}`;
      // One line per sequence, so a run of many seeds says what it covered and which skipped checks fired.
      process.stdout.write(`seed ${seed} run ${runs}: ${r.violations.length ? `FAIL (${[...new Set(r.violations.map((x) => x.check))].join(', ')})` : 'pass'} in ${(r.ms / 1000).toFixed(1)} s, ${cmds.length} commands (${cmds.filter((c) => c.c === 'destroy').length} destroy), ${JSON.stringify(r.stats)}\n`);
      if (r.violations.length) throw new Error(said);
      if (process.env.MODEL_VERBOSE) process.stdout.write(`${said}\n`);
    });
    const out = await fc.check(property, { seed, numRuns: 1, endOnFailure: !shrink, interruptAfterTimeLimit: shrink ? 3_600_000 : undefined });
    if (out.failed) {
      const seq = out.counterexample?.[0] as Command[] | undefined;
      throw new Error(`model test failed: seed ${seed}${shrink ? ` (shrunk after ${out.numShrinks} shrinks)` : ''}\n` +
        `replay: MODEL_SEQUENCE='${JSON.stringify(seq ?? [])}' pnpm test:model\n${(out.errorInstance as Error | undefined)?.message ?? String(out.errorInstance)}`);
    }
  }, shrink ? 3_600_000 : PER_SEQUENCE_MS);
});
