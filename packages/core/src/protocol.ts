/**
 * The wire protocol version (docs/PROTOCOL.md): key names, entry fields, status fields and the
 * scripts' arguments and replies, which programs in other languages rely on. Data under a prefix
 * records the version it is written in, in the hash `<prefix>:protocol` (field `version`):
 *
 * - at connect, every client reads it (HGET, nothing written) and refuses a version it does not
 *   speak with {@link ProtocolVersionError} before anything is written;
 * - before its first write (publish, subscribe, waitFor, trim) a client records its own version
 *   where none is (script `ensureProtocol`, atomic), and refuses likewise when it finds another.
 *
 * The version is one whole number, raised only by a change an older reader or writer would get
 * wrong (a key renamed, a field's meaning changed, a script's arguments changed). Additions that
 * older programs may ignore (a new optional field, a new script) keep it.
 */
import type Redis from 'ioredis';
import { ProtocolVersionError } from './errors';
import { runScript } from './scripts/runner';

/** The wire protocol version this library writes and reads. */
export const PROTOCOL_VERSION = 1;

/** Every protocol version this library speaks (reads and writes correctly). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([1]);

/** The hash that records a prefix's protocol version: `<prefix>:protocol` (fields version, createdAt). */
export function protocolKey(prefix: string): string {
  return `${prefix}:protocol`;
}

/** A {@link ProtocolVersionError} for what was found, or undefined when this library speaks it. */
export function protocolProblem(key: string, found: string): ProtocolVersionError | undefined {
  const n = /^\d{1,9}$/.test(found) ? Number(found) : NaN;
  if (SUPPORTED_PROTOCOL_VERSIONS.includes(n)) return undefined;
  const speaks = SUPPORTED_PROTOCOL_VERSIONS.join(', ');
  if (Number.isInteger(n) && n > PROTOCOL_VERSION) {
    return new ProtocolVersionError(key, found, SUPPORTED_PROTOCOL_VERSIONS,
      `the data under this prefix uses streamfan wire protocol version ${n} (${key}), but this library speaks version ${speaks} only: ` +
      'upgrade @streamfan/core (and every other streamfan program on this prefix) to a release that speaks it, or use another prefix. Nothing was written (docs/PROTOCOL.md)');
  }
  return new ProtocolVersionError(key, found, SUPPORTED_PROTOCOL_VERSIONS,
    `${key} says the data under this prefix uses protocol version ${JSON.stringify(found)}, which is no streamfan protocol version (this library speaks ${speaks}): ` +
    'something other than streamfan wrote that key. Delete it if nothing else uses it (streamfan writes it again), or use another prefix. Nothing was written (docs/PROTOCOL.md)');
}

function wrongType(key: string, err: unknown): ProtocolVersionError | undefined {
  const msg = (err as Error)?.message ?? '';
  if (!/WRONGTYPE/.test(msg)) return undefined;
  return new ProtocolVersionError(key, '', SUPPORTED_PROTOCOL_VERSIONS,
    `${key} holds a value that is not a hash, so it is not streamfan's protocol record: something else uses this prefix. ` +
    'Use another prefix, or delete that key if nothing needs it. Nothing was written (docs/PROTOCOL.md)');
}

/**
 * Read the prefix's protocol version (HGET: nothing written; a prefix with no version yet passes).
 * @throws ProtocolVersionError when the version recorded is one this library does not speak
 */
export async function checkProtocol(redis: Redis, prefix: string): Promise<void> {
  const key = protocolKey(prefix);
  let found: string | null;
  try {
    found = await redis.hget(key, 'version');
  } catch (err) {
    throw wrongType(key, err) ?? err;
  }
  if (found === null) return;
  const problem = protocolProblem(key, found);
  if (problem) throw problem;
}

/**
 * Record {@link PROTOCOL_VERSION} as the prefix's version where none is recorded (script
 * `ensureProtocol`), and check the one found.
 * @returns true when this call recorded it
 * @throws ProtocolVersionError when another version is recorded
 */
export async function recordProtocol(redis: Redis, prefix: string): Promise<boolean> {
  const key = protocolKey(prefix);
  let reply: [string, string];
  try {
    reply = await runScript<[string, string]>(redis, 'ensureProtocol', [key], [PROTOCOL_VERSION]);
  } catch (err) {
    throw wrongType(key, err) ?? err;
  }
  const problem = protocolProblem(key, String(reply[1]));
  if (problem) throw problem;
  return reply[0] === 'created';
}

/**
 * One client's protocol checks: the read at connect, and the record before its first write,
 * each done once. Any failure other than {@link ProtocolVersionError} (the connection dropped,
 * a refused command) is not a verdict: it is forgotten, the operation goes on and reports its
 * own failure, and the next operation checks again.
 */
export class ProtocolGuard {
  private recorded: Promise<void> | undefined;

  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  /** The connect-time read. @throws ProtocolVersionError */
  async check(): Promise<void> {
    try {
      await checkProtocol(this.redis, this.prefix);
    } catch (err) {
      if (err instanceof ProtocolVersionError) throw err;
    }
  }

  /** Record the version before the first write (once per client). @throws ProtocolVersionError */
  record(): Promise<void> {
    if (!this.recorded) {
      const p: Promise<void> = recordProtocol(this.redis, this.prefix).then(() => undefined, (err: unknown) => {
        if (err instanceof ProtocolVersionError) throw err;
        if (this.recorded === p) this.recorded = undefined; // not a verdict: ask again next time
      });
      this.recorded = p;
    }
    return this.recorded;
  }
}
