import { fieldMap } from '../consumer/entry';
import { fromRedisError } from '../errors';
import { compareIds } from '../ids';
import { listPending, type PendingEntry } from '../inspect';
import { topicKeys } from '../keys';
import { FIELD, type Headers } from '../publisher';
import type { AdminTarget } from './target';

/** Which pending entries {@link Streamfan.pendingPage} returns. */
export interface PendingPageQuery {
  /** Only entries owned by this consumer. */
  consumer?: string;
  /** Only entries idle at least this long. */
  minIdleMs?: number;
  /** Page size (at most 10000). @defaultValue 100 */
  limit?: number;
  /** Entries after this entry id (exclusive): the `next` of the previous page. */
  after?: string;
  /** Also read each entry's payload and headers. @defaultValue false */
  payload?: boolean;
}

/** One pending entry of a group, from the topic stream or the group's redelivery stream. */
export interface PendingRow extends PendingEntry {
  /** The event id: the entry id for the topic stream, the original event's id for a retry or replay. */
  eventId: string;
  /** With `payload: true`: the decoded payload (JSON), the raw string when it is not JSON, null when the entry is gone. */
  payload?: unknown;
  headers?: Headers;
}

/** One page of {@link Streamfan.pendingPage}. */
export interface PendingPage {
  entries: PendingRow[];
  /** Pass as `after` to get the next page; null when this was the last one. */
  next: string | null;
}

function decode(data: string | undefined): unknown {
  if (data === undefined) return null;
  try { return JSON.parse(data) as unknown; } catch { return data; }
}

/**
 * One page of a group's pending entries, oldest entry id first, over both streams the group
 * reads (the topic, and its redelivery stream for retries and replays). Pages with XPENDING's
 * extended form from `after`, so a group with 100,000 pending entries is never loaded whole:
 * two XPENDING calls and, for payloads or redelivery entries, one pipelined XRANGE per entry.
 */
export async function pendingPage(target: AdminTarget, topic: string, group: string, q: PendingPageQuery = {}): Promise<PendingPage> {
  const limit = Math.min(Math.max(1, Math.floor(q.limit ?? 100)), 10_000);
  const keys = topicKeys(target.prefix, topic);
  const base = { consumer: q.consumer, minIdleMs: q.minIdleMs, after: q.after, limit: limit + 1 };
  try {
    const [fromTopic, fromRedelivery] = await Promise.all([
      listPending(target.redis, target.prefix, topic, group, { ...base, source: 'topic' }),
      listPending(target.redis, target.prefix, topic, group, { ...base, source: 'redelivery' }).catch((err: Error) => {
        if (/NOGROUP|no such key/i.test(err.message)) return [] as PendingEntry[];
        throw err;
      }),
    ]);
    const merged = [...fromTopic, ...fromRedelivery].sort((a, b) => compareIds(a.id, b.id));
    const page = merged.slice(0, limit);
    const rows: PendingRow[] = page.map((e) => ({ ...e, eventId: e.id }));
    const reads = rows.filter((r) => q.payload || r.source === 'redelivery');
    if (reads.length > 0) {
      const p = target.redis.pipeline();
      for (const r of reads) p.xrange(r.source === 'topic' ? keys.stream : keys.redeliver(group), r.id, r.id);
      const res = (await p.exec()) ?? [];
      reads.forEach((r, i) => {
        const entry = ((res[i]?.[1] ?? []) as Array<[string, string[]]>)[0];
        const f = fieldMap(entry?.[1] ?? []);
        if (r.source === 'redelivery') r.eventId = f.get(FIELD.orig) ?? r.id;
        if (q.payload) {
          r.payload = decode(f.get(FIELD.payload));
          try { r.headers = f.get(FIELD.headers) ? (JSON.parse(f.get(FIELD.headers)!) as Headers) : {}; } catch { r.headers = {}; }
        }
      });
    }
    return { entries: rows, next: merged.length > limit ? page[page.length - 1]!.id : null };
  } catch (err) {
    throw fromRedisError(err, `list pending entries of group "${group}" in topic "${topic}"`);
  }
}
