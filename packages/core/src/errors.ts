/**
 * Every error streamfan throws or emits is a {@link StreamfanError} with a stable `code`,
 * a message that says what was wrong and what to do, and the underlying `cause` if any.
 */

import type Redis from 'ioredis';
import { lastConnectionError } from './connection';

/** Stable error codes, for `switch (err.code)` in user code and `--json` output. */
export type ErrorCode =
  | 'INVALID_NAME'
  | 'INVALID_OPTION'
  | 'INVALID_PAYLOAD'
  | 'PAYLOAD_TOO_LARGE'
  | 'REDIS_UNAVAILABLE'
  | 'REDIS_OUT_OF_MEMORY'
  | 'REDIS_ERROR'
  | 'NOT_FOUND'
  | 'INVALID_ID'
  | 'CLOSED'
  | 'TIMEOUT'
  | 'DEAD_LETTER'
  | 'UNSUPPORTED_SERVER'
  /** A partitioned topic defined with another partition count than the one fixed at its creation. */
  | 'PARTITION_MISMATCH'
  /** A publishMany over several partitions wrote some partitions' parts and not others. */
  | 'PARTIAL_PUBLISH'
  /** The group was retired for good (retireGroup): it is not recreated. */
  | 'GROUP_RETIRED'
  /** The prefix's data uses a wire protocol version this library does not speak (docs/PROTOCOL.md). */
  | 'PROTOCOL_VERSION'
  /** A prioritized topic defined with other lanes (or another default lane) than those fixed at its creation. */
  | 'LANE_MISMATCH'
  /** A publish with a `priority` the topic does not declare. */
  | 'UNKNOWN_LANE';

/** Base class of every streamfan error. */
export class StreamfanError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A topic, group, consumer or prefix name that cannot be used in a Redis key. */
export class InvalidNameError extends StreamfanError {
  constructor(message: string) { super('INVALID_NAME', message); }
}

/** An option with a value out of range or of the wrong type. */
export class InvalidOptionError extends StreamfanError {
  constructor(message: string) { super('INVALID_OPTION', message); }
}

/** A payload or header the codec cannot represent. Nothing was written. */
export class InvalidPayloadError extends StreamfanError {
  constructor(message: string, options?: { cause?: unknown }) { super('INVALID_PAYLOAD', message, options); }
}

/** An encoded payload larger than the topic's `maxPayloadBytes`. Nothing was written. */
export class PayloadTooLargeError extends StreamfanError {
  /** Encoded size in bytes. */
  readonly size: number;
  /** The limit that was exceeded. */
  readonly limit: number;
  constructor(size: number, limit: number, topic: string) {
    super('PAYLOAD_TOO_LARGE', `payload for topic "${topic}" is ${size} bytes encoded, over the limit of ${limit} bytes: send a reference (a URL or key) instead of the data, or raise maxPayloadBytes in defineTopic()`);
    this.size = size;
    this.limit = limit;
  }
}

/** Redis could not be reached, or the connection dropped before Redis answered. */
export class RedisUnavailableError extends StreamfanError {
  constructor(message: string, options?: { cause?: unknown }) { super('REDIS_UNAVAILABLE', message, options); }
}

/** Redis refused a write because it is at `maxmemory` with `noeviction`. Nothing was written. */
export class RedisOutOfMemoryError extends StreamfanError {
  constructor(options?: { cause?: unknown }) {
    super('REDIS_OUT_OF_MEMORY', 'Redis refused the write: it is at maxmemory (OOM). Nothing was written; consumers keep draining. Raise maxmemory, trim retention, or retry later.', options);
  }
}

/** Any other error Redis replied with. */
export class RedisCommandError extends StreamfanError {
  constructor(message: string, options?: { cause?: unknown }) { super('REDIS_ERROR', message, options); }
}

/** A topic, group, event or dead letter that does not exist. */
export class NotFoundError extends StreamfanError {
  constructor(message: string) { super('NOT_FOUND', message); }
}

/** An event id that is neither a stream id (`1700000000000-0`) nor a delayed id (`delayed-…`). */
export class InvalidIdError extends StreamfanError {
  /** The id given. */
  readonly id: string;
  constructor(id: unknown) {
    super('INVALID_ID', `${JSON.stringify(id)} is not an event id: ids look like 1700000000000-0 (from publish, \`streamfan tail\` or \`streamfan pending\`) or delayed-<uuid> for a delayed publish`);
    this.id = String(id);
  }
}

/** The client or subscription was closed; nothing more can be done with it. */
export class ClosedError extends StreamfanError {
  constructor(what: string) { super('CLOSED', `${what} is closed: create a new one`); }
}

/** {@link Streamfan.waitFor} gave up before every named group finished. */
export class WaitTimeoutError extends StreamfanError {
  /** Groups that had not finished. */
  readonly unfinished: string[];
  constructor(id: string, unfinished: string[], timeoutMs: number, lastSeen?: string) {
    super('TIMEOUT', `event ${id} was not finished by group(s) ${unfinished.join(', ')} within ${timeoutMs}ms${lastSeen ? ` (last seen: ${lastSeen})` : ''}: check the consumers with \`streamfan groups\`, or wait longer`);
    this.unfinished = unfinished;
  }
}

/**
 * Throw this from a handler to say "do not retry": the event goes to the group's dead
 * letters at once, with this message as its error.
 */
export class DeadLetterError extends StreamfanError {
  constructor(reason: string, options?: { cause?: unknown }) { super('DEAD_LETTER', reason, options); }
}

/** The server lacks a command streamfan cannot work without (it is older than the minimum). */
export class UnsupportedServerError extends StreamfanError {
  /** What the server reported itself as, e.g. "Redis 6.0.16". */
  readonly server: string;
  /** The missing command. */
  readonly missing: string;
  constructor(server: string, missing: string, minimum: string) {
    super('UNSUPPORTED_SERVER', `${server} has no ${missing}, which streamfan needs: use ${minimum}`);
    this.server = server;
    this.missing = missing;
  }
}

/**
 * The group was retired for good ({@link Streamfan.retireGroup}): a subscription of it stops
 * instead of recreating it, and a new one refuses to start. Undo with
 * {@link Streamfan.unretireGroup}.
 */
export class GroupRetiredError extends StreamfanError {
  readonly topic: string;
  readonly group: string;
  /** When it was retired (server time), if known. */
  readonly retiredAt: Date | undefined;
  constructor(topic: string, group: string, retiredAt?: Date) {
    super('GROUP_RETIRED', `group "${group}" of topic "${topic}" was retired${retiredAt ? ` at ${retiredAt.toISOString()}` : ''}: it is not recreated and its consumers stop. ` +
      `To run it again, un-retire it first (sf.unretireGroup(topic, group) or \`streamfan unretire ${topic} ${group}\`); the next subscribe then creates it at its startFrom.`);
    this.topic = topic;
    this.group = group;
    this.retiredAt = retiredAt;
  }
}

/**
 * The data under this client's prefix was written by a streamfan wire protocol version this
 * library does not speak (see docs/PROTOCOL.md): a newer release, or something else wrote the
 * prefix's protocol key. Nothing was written. Upgrade `@streamfan/core`, or use another prefix.
 */
export class ProtocolVersionError extends StreamfanError {
  /** The protocol key read, e.g. `streamfan:protocol`. */
  readonly key: string;
  /** The version found there, as stored (not always a number). */
  readonly found: string;
  /** The protocol versions this library speaks. */
  readonly supported: readonly number[];
  constructor(key: string, found: string, supported: readonly number[], message: string) {
    super('PROTOCOL_VERSION', message);
    this.key = key;
    this.found = found;
    this.supported = supported;
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * Map an error from ioredis to a typed {@link StreamfanError}. Give the `connection` the
 * command ran on, so an unreachable Redis is explained by the connection's own error
 * (refused, TLS certificate, authentication) rather than by "max retries".
 */
export function fromRedisError(err: unknown, context: string, connection?: Redis): StreamfanError {
  if (err instanceof StreamfanError) return err;
  const e = err as { message?: string; code?: string; name?: string };
  const msg = e?.message ?? String(err);
  if (/^OOM /.test(msg) || msg.includes('OOM command not allowed')) return new RedisOutOfMemoryError({ cause: err });
  if (
    (e?.code && NETWORK_CODES.has(e.code)) ||
    e?.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|connect ECONNREFUSED|Stream isn't writeable|Reached the max retries/.test(msg)
  ) {
    const last = connection ? lastConnectionError(connection) : undefined;
    const why = last && !msg.includes(last.message) ? `${msg}; the connection failed with: ${last.message}` : msg;
    return new RedisUnavailableError(`${context}: Redis is unreachable (${why}). Check that it runs and that the URL, password and TLS settings are right.`, { cause: err });
  }
  return new RedisCommandError(`${context}: ${msg}`, { cause: err });
}

/**
 * True when Redis said the group or its stream does not exist (FLUSHDB, DEL, XGROUP DESTROY,
 * retireGroup): NOGROUP; XINFO's "no such key"; and the reply of a blocked XREADGROUP whose
 * stream was deleted under it ("UNBLOCKED the stream key no longer exists", Redis 7+).
 */
export function isNoGroup(err: unknown): boolean {
  return /NOGROUP|\bno such key\b|UNBLOCKED the stream key no longer exists/i.test((err as Error)?.message ?? '');
}
