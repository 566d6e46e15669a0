import type { Plans } from './commands';

/** One publish that resolved: the event is owed to every group. */
export interface OwedEvent {
  seq: number;
  /** The id publish returned (a stream id, or a `delayed-…` id). */
  returnedId: string;
  delayed: boolean;
  plans: Plans;
  via: 'publish' | 'publishMany' | 'delayed' | 'idem';
  /** Wall-clock ms when the publish call started and when it resolved. */
  t0: number;
  t: number;
}

/** A time window [from, to] (wall-clock ms). */
export interface Window { from: number; to: number }

/**
 * What the driver knows happened: the model the end state is checked against. Every field is
 * written by the driver as it runs commands; the checker only reads it.
 */
export class Model {
  readonly owed = new Map<number, OwedEvent>();
  /** Publishes whose outcome is unknown (the call failed): they may or may not exist. */
  readonly uncertain = new Set<number>();
  /** Idempotency key → the first id returned for it (undefined: that key's first outcome is unknown). */
  readonly idemFirst = new Map<number, string | undefined>();
  /** Repeats of an idempotency key: what they returned and what the first call returned. */
  readonly idemRepeats: Array<{ seq: number; key: number; returned: string; expected: string }> = [];
  /** Stream ids a hard cap removed while some group had not acknowledged them, and their seqs where known. */
  readonly capLostIds = new Set<string>();
  readonly capLostSeqs = new Set<number>();
  /** Stream id of each cap-lost seq (how a delayed event no handler saw is found). */
  readonly capLostIdBySeq = new Map<number, string>();
  /** Cap losses the trim reported beyond the ids it listed. */
  capLostUnlisted = 0;
  /** SIGSTOP windows per consumer. */
  readonly stops: Array<Window & { consumer: string }> = [];
  /** Windows in which redis-server was down. */
  readonly redisDown: Window[] = [];
  /** XGROUP DESTROY of a group, with the seqs that had succeeded in it by then. */
  readonly destroys: Array<{ g: string; t: number; succeededBefore: Set<number> }> = [];
  /** Dead-letter replays: the seqs replayed, and which of them were healed first. */
  readonly replays: Array<{ g: string; t: number; seqs: number[]; healed: number[] }> = [];
  /** Whether a `join` started workers of the late group. */
  joined = false;
  /** When each `cap` command started (driver clock, `now()`). */
  readonly capsAt: number[] = [];
  /** When the last `join` started (driver clock, `now()`). */
  lastJoinAt: number | undefined;
  /** "<group>:<seq>" healed before a replay. */
  readonly healed = new Set<string>();
  /** Commands that failed in the driver (e.g. a trim while Redis restarts): narrated, not violations. */
  readonly driverErrors: string[] = [];
  /** Errors the publishing client emitted (its delayed-event promoter). */
  readonly clientErrors: string[] = [];
  private nextSeq = 1;

  takeSeq(): number {
    return this.nextSeq++;
  }

  get published(): number {
    return this.nextSeq - 1;
  }
}
