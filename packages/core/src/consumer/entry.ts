import type { Codec } from '../codec';
import { FIELD, type Headers } from '../publisher';

/** A stream entry as ioredis returns it: id and a flat field/value list (null when deleted, Redis 6.2). */
export type RawEntry = [id: string, fields: string[] | null];

/** One delivery, parsed: what a handler will see. */
export interface ParsedEntry<T> {
  entryId: string;
  /** The event id: the topic entry id, also for retries and replays (which are copies). */
  eventId: string;
  /** Attempts made before this entry was written (non-zero for retry copies). */
  base: number;
  payload: T;
  headers: Headers;
}

/** Why an entry cannot be handled: it goes to dead letters with this reason. */
export interface MalformedEntry {
  entryId: string;
  eventId: string;
  base: number;
  reason: string;
}

export function fieldMap(flat: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return m;
}

/**
 * Parse an entry written by streamfan, or by another program. Never throws: anything that
 * cannot be handled comes back as a {@link MalformedEntry}. Runs for every delivery: the fields
 * are read in one pass over the flat list (no Map per entry); a field given twice counts with its
 * last value, as a Map would.
 */
export function parseEntry<T>(raw: RawEntry, codec: Codec<T>, fromRedelivery: boolean): ParsedEntry<T> | MalformedEntry {
  const entryId = raw[0];
  const flat = raw[1];
  let data: string | undefined;
  let h: string | undefined;
  let orig: string | undefined;
  let baseText: string | undefined;
  let delayed: string | undefined;
  if (flat) {
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i];
      if (name === FIELD.payload) data = flat[i + 1];
      else if (name === FIELD.headers) h = flat[i + 1];
      else if (name === FIELD.orig) orig = flat[i + 1];
      else if (name === FIELD.base) baseText = flat[i + 1];
      else if (name === FIELD.delayed) delayed = flat[i + 1];
    }
  }
  const eventId = fromRedelivery && orig && /^\d+-\d+$/.test(orig) ? orig : entryId;
  const baseRaw = fromRedelivery ? Number(baseText ?? '0') : 0;
  const base = Number.isInteger(baseRaw) && baseRaw >= 0 ? baseRaw : 0;
  if (data === undefined) {
    const names = [...fieldMap(flat ?? []).keys()].slice(0, 8).join(', ') || 'none';
    return { entryId, eventId, base, reason: `malformed entry: no "${FIELD.payload}" field (fields: ${names}); it was not written by streamfan's publish` };
  }
  let payload: T;
  try {
    payload = codec.decode(data);
  } catch (err) {
    return { entryId, eventId, base, reason: `malformed entry: the payload cannot be decoded (${(err as Error).message})` };
  }
  let headers: Headers = {};
  if (h) {
    try {
      const parsed: unknown = JSON.parse(h);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      headers = parsed as Headers;
    } catch (err) {
      return { entryId, eventId, base, reason: `malformed entry: the headers are not a JSON object (${(err as Error).message})` };
    }
  }
  if (delayed) headers = { ...headers, 'streamfan-delayed-id': delayed };
  return { entryId, eventId, base, payload, headers };
}

export function isMalformed<T>(p: ParsedEntry<T> | MalformedEntry): p is MalformedEntry {
  return (p as MalformedEntry).reason !== undefined;
}

/** Milliseconds part of a stream id. */
export function idTime(id: string): number {
  return Number(id.split('-')[0]);
}

/** Encode a handler's result for the status hash, capped at `maxBytes`. */
export function encodeResult(result: unknown, maxBytes: number): string {
  if (result === undefined) return '';
  let json: string;
  try {
    json = JSON.stringify(result) ?? '';
  } catch (err) {
    return JSON.stringify({ unserialisable: (err as Error).message });
  }
  if (Buffer.byteLength(json) <= maxBytes) return json;
  return JSON.stringify({ truncated: true, bytes: Buffer.byteLength(json), preview: json.slice(0, Math.max(0, maxBytes - 100)) });
}

/** One line describing an error, capped so status hashes stay small. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : `thrown value: ${String(err)}`;
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}
