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

/**
 * The wire protocol version this library writes. Version 2 records a plain success (no result)
 * as a short record in a per-group, per-second success bucket instead of the per-event status
 * hash (docs/PROTOCOL.md §5.2); version 1 programs would read those events as `unknown`.
 */
export const PROTOCOL_VERSION = 2;

/** Every protocol version this library writes under (records, and accepts before a write). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([2]);

/**
 * Versions whose data this library reads correctly: the connect-time check passes on them, so
 * the CLI, status() and the dashboard keep reading a version 1 prefix. Writing under version 1
 * is refused until the prefix is upgraded ({@link upgradeStep}).
 */
export const READABLE_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([1, 2]);

/** The protocol version's hash key of a prefix: `<prefix>:protocol` (fields version, createdAt). */
export function protocolKey(prefix: string): string {
  return `${prefix}:protocol`;
}

/** What to do to move a version 1 prefix to version 2 (docs/PROTOCOL.md §1, "Upgrading"). */
export function upgradeStep(key: string): string {
  return 'stop (or upgrade) every program on this prefix that speaks version 1 only (@streamfan/core before protocol 2, foreign consumers), ' +
    `then record version 2: \`redis-cli HSET ${key} version 2\`, and start version 2 programs. Status written in version 1 stays readable`;
}

/**
 * A {@link ProtocolVersionError} for what was found, or undefined when this library speaks it.
 * `forWrite`: the check before a first write (only {@link SUPPORTED_PROTOCOL_VERSIONS} pass);
 * otherwise the connect-time read ({@link READABLE_PROTOCOL_VERSIONS} pass).
 */
export function protocolProblem(key: string, found: string, forWrite = true): ProtocolVersionError | undefined {
  const n = /^\d{1,9}$/.test(found) ? Number(found) : NaN;
  if ((forWrite ? SUPPORTED_PROTOCOL_VERSIONS : READABLE_PROTOCOL_VERSIONS).includes(n)) return undefined;
  const speaks = SUPPORTED_PROTOCOL_VERSIONS.join(', ');
  if (READABLE_PROTOCOL_VERSIONS.includes(n)) {
    return new ProtocolVersionError(key, found, SUPPORTED_PROTOCOL_VERSIONS,
      `the data under this prefix uses streamfan wire protocol version ${n} (${key}); this library reads it but writes version ${speaks} only, ` +
      `which version ${n} programs cannot read (plain successes are recorded in success buckets). To upgrade: ${upgradeStep(key)}. Nothing was written (docs/PROTOCOL.md)`);
  }
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
 * @throws ProtocolVersionError when the version recorded is one this library cannot read
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
  const problem = protocolProblem(key, found, false);
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
  private recordedOk = false;

  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  /** Whether {@link record} has succeeded: a write need not wait for it any more. */
  get isRecorded(): boolean {
    return this.recordedOk;
  }

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
      const p: Promise<void> = recordProtocol(this.redis, this.prefix).then(() => { this.recordedOk = true; }, (err: unknown) => {
        if (err instanceof ProtocolVersionError) throw err;
        if (this.recorded === p) this.recorded = undefined; // not a verdict: ask again next time
      });
      this.recorded = p;
    }
    return this.recorded;
  }
}
