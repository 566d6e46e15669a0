/**
 * The compact success (and skip) records of protocol version 2 (docs/PROTOCOL.md §5.2).
 *
 * A plain success (the handler returned nothing) is not written to the event's status hash: it
 * is appended, as a record of a few bytes, to a string per group per second of event ids,
 * `<prefix>:{<topic>}:ok:<group>:<second>`:
 *
 * ```
 * bucket  = item*                       items end with ';'
 * item    = '@' <decimal ms, may be negative> ';'     a time marker: the records after it
 *                                                      finished at second × 1000 + this
 *         | <ms within the second, base 36> ['-' <seq, decimal>] [':' <attempts, decimal>] ';'
 *         | '~' <ms within the second, base 36> ['-' <seq, decimal>] [':' <attempts, decimal>] ';'
 * ```
 *
 * `-<seq>` only when the id's sequence is not 0, `:<attempts>` only when more than 1 (a success)
 * or more than 0 (a skip). A record starting with `~` is a **skip** (subscribe option
 * `skipOlderThanMs`: acknowledged without running the handler, state `skipped`); readers that
 * do not know it pass over it (its id is not a token). Every call of the ack (or skip) script
 * writes one marker, then its records, so each record follows a marker. A reader takes the last
 * record of an id, either kind (there is normally one), and the last marker before it.
 */

/** Width of a success bucket in ms (one second of event ids). */
export const BUCKET_MS = 1000;

/** The bucket (second) an event id belongs to, and the id's token within it. */
export function recordToken(eventId: string): { second: number; token: string } {
  const dash = eventId.indexOf('-');
  const ms = Number(eventId.slice(0, dash));
  const seq = eventId.slice(dash + 1);
  const second = Math.floor(ms / BUCKET_MS);
  const inBucket = (ms - second * BUCKET_MS).toString(36);
  return { second, token: seq === '0' ? inBucket : `${inBucket}-${seq}` };
}

/** One record: the token of {@link recordToken}, and `:<attempts>` when more than 1. */
export function encodeRecord(token: string, attempts: number): string {
  return attempts > 1 ? `${token}:${attempts};` : `${token};`;
}

/** What a bucket says about one event. */
export interface SuccessRecord {
  attempts: number;
  /** When it finished (server ms): the marker before the record; undefined when there is none. */
  finishedAt?: number;
  /** A skip record (`~…`): the event was skipped (state `skipped`), not a success. */
  skipped?: true;
}

/**
 * Find the last record of `token` in a bucket string (`second` is the bucket's), the way the
 * readStatus script does server-side. Tolerates garbage: an unparsable item is skipped.
 */
export function findRecord(bucket: string, second: number, token: string): SuccessRecord | undefined {
  let found: SuccessRecord | undefined;
  let marker: number | undefined;
  let start = 0;
  while (start < bucket.length) {
    let end = bucket.indexOf(';', start);
    if (end < 0) end = bucket.length;
    const item = bucket.slice(start, end);
    start = end + 1;
    if (item.startsWith('@')) {
      const d = Number(item.slice(1));
      if (Number.isFinite(d)) marker = second * BUCKET_MS + d;
      continue;
    }
    const skip = item.startsWith('~');
    const colon = item.indexOf(':');
    const id = (colon < 0 ? item : item.slice(0, colon)).slice(skip ? 1 : 0);
    if (id !== token) continue;
    const least = skip ? 0 : 1;
    const attempts = colon < 0 ? least : Number(item.slice(colon + 1));
    found = { attempts: Number.isInteger(attempts) && attempts >= least ? attempts : least, ...(marker !== undefined ? { finishedAt: marker } : {}), ...(skip ? { skipped: true as const } : {}) };
  }
  return found;
}

/**
 * Parse the readStatus script's reply for one bucket: `[attempts, offset]`, attempts 0 when none;
 * asked with skip records (its ARGV[2] '1'), `[attempts, offset, kind]`, kind `'s'` for a skip
 * record (then attempts is its attempts + 1, so 0 still means none), `''` for a success.
 */
export function recordFromReply(second: number, attempts: unknown, offset: unknown, kind?: unknown): SuccessRecord | undefined {
  let a = Number(attempts);
  if (!Number.isInteger(a) || a <= 0) return undefined;
  const skip = kind === 's';
  if (skip) a -= 1;
  const o = offset === null || offset === undefined || offset === '' ? Number.NaN : Number(offset);
  return { attempts: a, ...(Number.isFinite(o) ? { finishedAt: second * BUCKET_MS + o } : {}), ...(skip ? { skipped: true as const } : {}) };
}
