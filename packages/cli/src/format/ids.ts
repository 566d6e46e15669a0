import { InvalidArgumentError } from 'commander';

/**
 * Ids as the CLI accepts them. An event of a plain topic is a stream id (`1700000000000-0`); a
 * partitioned topic's ids carry their partition (`p3:1700000000000-0`); a prioritized topic's
 * ids outside its default lane carry their lane (`high:1700000000000-0`, docs/priorities.md).
 * A lane name is 1–16 of `a-z 0-9 _ -`, starting with a letter, and never `p<digits>`.
 */
const SCOPE = /^(?:p(?:0|[1-9]\d{0,3})|(?!p\d+:)[a-z][a-z0-9_-]{0,15}):/;
const STREAM_ID = /^\d+-\d+$/;
const DELAYED_ID = /^delayed-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The lane of a prioritized topic's id (`high:1700000000000-0` → `high`); undefined for a default-lane, partition or plain id. */
export function laneOf(id: string): string | undefined {
  const m = /^([a-z][a-z0-9_-]{0,15}):/.exec(id);
  return m && !/^p\d+$/.test(m[1]!) ? m[1] : undefined;
}

/** Whether `text` is an entry id, possibly with a partition or lane before it. */
export function isEntryId(text: string): boolean {
  return STREAM_ID.test(text.replace(SCOPE, ''));
}

/**
 * Commander parser for event ids: a stream id, or a delayed publish's id (`delayed-<uuid>`),
 * either possibly scoped by a partition (`p3:`) or a lane (`high:`). A wrong id is a usage error
 * (exit 2) before anything is sent to Redis.
 */
export function laneEventId(text: string): string {
  const local = text.replace(SCOPE, '');
  if (/^\d+(-\d+)?$/.test(local) || DELAYED_ID.test(local)) return text;
  throw new InvalidArgumentError(
    'expected an event id such as 1700000000000-0 (or a delayed-… id from a delayed publish; p3:1700000000000-0 on a partitioned topic, high:1700000000000-0 in a priority lane).',
  );
}

/** Commander parser for entry ids that may carry a partition or a lane (`p3:1700000000000-0`, `high:1700000000000-0`). */
export function laneEntryId(text: string): string {
  if (!isEntryId(text))
    throw new InvalidArgumentError(
      'expected an entry id such as 1700000000000-0 (p3:1700000000000-0 on a partitioned topic, high:1700000000000-0 in a priority lane).',
    );
  return text;
}
