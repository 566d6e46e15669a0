import fc from 'fast-check';
import type { Plan } from './protocol';

/** The groups every sequence subscribes (every worker process runs one consumer of each). */
export const GROUPS = ['a', 'b'] as const;
/** A group that joins mid-sequence (the `join` command) with startFrom 'latest'; its handlers always succeed. */
export const LATE_GROUP = 'c';

/** Plans per group for one event. */
export type Plans = Record<string, Plan>;

/**
 * One step of a sequence: pure data, printed on failure and accepted back (MODEL_SEQUENCE)
 * to replay a sequence by hand.
 */
export type Command =
  | { c: 'publish'; plans: Plans }
  | { c: 'publishMany'; plans: Plans[]; delayMs?: number }
  | { c: 'delayed'; delayMs: number; plans: Plans }
  | { c: 'idem'; key: number; plans: Plans; delayMs?: number }
  | { c: 'wait'; ms: number }
  | { c: 'kill'; w: number; respawn: boolean }
  | { c: 'stop'; w: number; ms: number }
  | { c: 'close'; w: number; respawn: boolean }
  | { c: 'spawn' }
  /** Start a worker that also subscribes LATE_GROUP from 'latest' (every later worker does too). */
  | { c: 'join' }
  | { c: 'redisRestart'; how: 'kill' | 'shutdown'; downMs: number }
  /** `n` publishes in flight at once, then CLIENT KILL of every connection after `afterMs`. */
  | { c: 'clientKill'; n: number; afterMs: number; plans: Plans }
  | { c: 'trim'; approximate: boolean }
  | { c: 'cap'; maxLen: number; approximate: boolean }
  | { c: 'destroy'; g: number }
  | { c: 'replay'; g: number }
  /** Self-check only (never generated): write an event and delete it behind the library's back, as a bug would. */
  | { c: 'sabotage'; plans: Plans };

export type CommandName = Exclude<Command['c'], 'sabotage'>;

/** Every command the generator knows. */
export const ALL_COMMANDS: readonly CommandName[] = ['publish', 'publishMany', 'delayed', 'idem', 'wait', 'kill', 'stop', 'close', 'spawn', 'join', 'redisRestart', 'clientKill', 'trim', 'cap', 'destroy', 'replay'];

/** Timing the plans are scaled by (the workers' visibility timeout). */
export interface GenTiming {
  visibilityTimeoutMs: number;
  /** Weight multiplier of the fault commands and of the hang/block/fail plans (the `harsh` profile). @defaultValue 1 */
  harshness?: number;
}

function planArb(t: GenTiming): fc.Arbitrary<Plan> {
  const v = t.visibilityTimeoutMs;
  const h = t.harshness ?? 1;
  return fc.oneof(
    { weight: Math.max(1, Math.round(20 / h)), arbitrary: fc.constant<Plan>({ k: 'ok' }) },
    { weight: 4, arbitrary: fc.integer({ min: 20, max: 400 }).map<Plan>((ms) => ({ k: 'slow', ms })) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }).map<Plan>((n) => ({ k: 'fail', n })) },
    { weight: 1, arbitrary: fc.constant<Plan>({ k: 'poison' }) },
    { weight: 1, arbitrary: fc.constant<Plan>({ k: 'dead' }) },
    { weight: 2, arbitrary: fc.constant<Plan>({ k: 'heal' }) },
    { weight: 1, arbitrary: fc.integer({ min: Math.round(v * 1.5), max: Math.round(v * 2.5) }).map<Plan>((ms) => ({ k: 'hang', ms })) },
    { weight: 1, arbitrary: fc.integer({ min: Math.round(v * 1.2), max: Math.round(v * 1.6) }).map<Plan>((ms) => ({ k: 'block', ms })) },
    // Workers time handlers out at 3× the visibility timeout.
    { weight: 1, arbitrary: fc.integer({ min: Math.round(v * 3.3), max: Math.round(v * 3.8) }).map<Plan>((ms) => ({ k: 'stuck', ms })) },
  );
}

function plansArb(t: GenTiming): fc.Arbitrary<Plans> {
  // Most events behave the same in every group; some differ per group.
  return fc.oneof(
    { weight: 3, arbitrary: planArb(t).map((p) => Object.fromEntries(GROUPS.map((g) => [g, p]))) },
    { weight: 2, arbitrary: fc.tuple(...GROUPS.map(() => planArb(t))).map((ps) => Object.fromEntries(GROUPS.map((g, i) => [g, ps[i]!]))) },
  );
}

/** The arbitrary of one command, for the enabled command names (weights favour publishing). */
export function commandArb(t: GenTiming, enabled: ReadonlySet<CommandName>): fc.Arbitrary<Command> {
  const v = t.visibilityTimeoutMs;
  // Now and then a batch or an idempotent publish is delayed too (0: not delayed).
  const delayArb = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 50, max: 1500 }) });
  const all: Array<{ weight: number; arbitrary: fc.Arbitrary<Command>; name: CommandName }> = [
    { name: 'publish', weight: 8, arbitrary: plansArb(t).map((plans) => ({ c: 'publish', plans })) },
    { name: 'publishMany', weight: 5, arbitrary: fc.record({ plans: fc.array(plansArb(t), { minLength: 1, maxLength: 12 }), delayMs: delayArb }).map(({ plans, delayMs }) => ({ c: 'publishMany', plans, ...(delayMs ? { delayMs } : {}) })) },
    { name: 'delayed', weight: 2, arbitrary: fc.record({ delayMs: fc.integer({ min: 50, max: 1500 }), plans: plansArb(t) }).map(({ delayMs, plans }) => ({ c: 'delayed', delayMs, plans })) },
    { name: 'idem', weight: 2, arbitrary: fc.record({ key: fc.integer({ min: 0, max: 3 }), plans: plansArb(t), delayMs: delayArb }).map(({ key, plans, delayMs }) => ({ c: 'idem', key, plans, ...(delayMs ? { delayMs } : {}) })) },
    { name: 'wait', weight: 5, arbitrary: fc.integer({ min: 50, max: 1500 }).map((ms) => ({ c: 'wait', ms })) },
    { name: 'kill', weight: 2, arbitrary: fc.record({ w: fc.nat(7), respawn: fc.boolean() }).map(({ w, respawn }) => ({ c: 'kill', w, respawn })) },
    { name: 'stop', weight: 2, arbitrary: fc.record({ w: fc.nat(7), ms: fc.integer({ min: 200, max: Math.round(v * 1.8) }) }).map(({ w, ms }) => ({ c: 'stop', w, ms })) },
    { name: 'close', weight: 1, arbitrary: fc.record({ w: fc.nat(7), respawn: fc.boolean() }).map(({ w, respawn }) => ({ c: 'close', w, respawn })) },
    { name: 'spawn', weight: 1, arbitrary: fc.constant<Command>({ c: 'spawn' }) },
    { name: 'join', weight: 1, arbitrary: fc.constant<Command>({ c: 'join' }) },
    { name: 'redisRestart', weight: 1, arbitrary: fc.record({ how: fc.constantFrom<'kill' | 'shutdown'>('kill', 'shutdown'), downMs: fc.integer({ min: 50, max: 800 }) }).map(({ how, downMs }) => ({ c: 'redisRestart', how, downMs })) },
    { name: 'clientKill', weight: 1, arbitrary: fc.record({ n: fc.integer({ min: 1, max: 20 }), afterMs: fc.integer({ min: 0, max: 8 }), plans: plansArb(t) }).map(({ n, afterMs, plans }) => ({ c: 'clientKill', n, afterMs, plans })) },
    { name: 'trim', weight: 1, arbitrary: fc.boolean().map((approximate) => ({ c: 'trim', approximate })) },
    { name: 'cap', weight: 1, arbitrary: fc.record({ maxLen: fc.integer({ min: 1, max: 30 }), approximate: fc.boolean() }).map(({ maxLen, approximate }) => ({ c: 'cap', maxLen, approximate })) },
    { name: 'destroy', weight: 1, arbitrary: fc.nat(GROUPS.length - 1).map((g) => ({ c: 'destroy', g })) },
    { name: 'replay', weight: 2, arbitrary: fc.nat(GROUPS.length - 1).map((g) => ({ c: 'replay', g })) },
  ];
  const faults = new Set<CommandName>(['kill', 'stop', 'close', 'redisRestart', 'clientKill', 'cap', 'replay', 'destroy']);
  const h = t.harshness ?? 1;
  const picked = all.filter((a) => enabled.has(a.name)).map(({ name, weight, arbitrary }) => ({ weight: faults.has(name) ? weight * h : weight, arbitrary }));
  if (picked.length === 0) throw new Error('no command enabled');
  return fc.oneof(...picked);
}

/** A whole sequence: `min`..`max` commands. */
export function sequenceArb(t: GenTiming, enabled: ReadonlySet<CommandName>, min = 8, max = 30): fc.Arbitrary<Command[]> {
  return fc.array(commandArb(t, enabled), { minLength: min, maxLength: max });
}

/** One line per command, for failure reports. */
export function describeSequence(cmds: readonly Command[]): string {
  return cmds.map((c, i) => `  ${String(i).padStart(2)}: ${JSON.stringify(c)}`).join('\n');
}
