import EventEmitter from 'eventemitter3';
import type Redis from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { describeConnection, openConnection, type ConnectionOption } from './connection';
import { defaultLogger, resolveSubscribeOptions, type Handler, type Logger, type SubscribeOptions } from './consumer/options';
import { captureStreamEnd } from './consumer/start-position';
import { Subscription } from './consumer/subscription';
import { countDeadLetters, listDeadLetters, purgeDeadLetters, replayDeadLetters, type DeadLetter, type DeadLetterSelection } from './dead-letters';
import { assertSupportedServer } from './capabilities';
import { ClosedError, InvalidOptionError, ProtocolVersionError, UnsupportedServerError, fromRedisError } from './errors';
import { ProtocolGuard } from './protocol';
import { listGroups, listPending, listTopics, type ConsumerInfo, type GroupInfo, type PendingEntry, type PendingQuery } from './inspect';
import { parseLaneHome, topicKeys } from './keys';
import { validateGroupName, validatePrefix } from './names';
import { ProducerLedger } from './producer';
import { delayedHome, publishBatch, publishOne, publishTopic, type PublishManyOptions, type PublishOptions } from './publisher';
import { loadScripts } from './scripts/runner';
import { readTopicStatus, type EventStatus } from './status';
import { resolveRetention, runRetention, trimTopic, type ResolvedRetention, type RetentionOptions, type TrimOptions, type TrimReport } from './retention';
import { toTopic, type Topic } from './topic';
import { waitForTopicEvent, type WaitForOptions } from './wait-for';
import { withTimeout } from './timing';
import { promoteDelayed, type DelayedEvent } from './delayed';
import { noticeMode } from './notice';
import type { AckedEntry } from './admin/ack';
import type { ClaimedEntry } from './admin/claim';
import type { PendingPage, PendingPageQuery } from './admin/pending-page';
import type { EventDetails } from './admin/show';
import type { TailedEvent, TailOptions } from './admin/tail';
import { topicMemory, watchStatusMemory, type MemoryOptions, type MemoryReport } from './memory';
import { retireGroup, unretireGroup, type RetireOptions, type RetireReport } from './admin/retire';
import { splitPartitionOptions, type PartitionSubscribeOptions } from './partitions/options';
import { topicAck, topicClaim, topicConsumers, topicDelayed, topicPendingPage, topicPrune, topicShow, topicTail } from './partitions/admin-ops';
import { subscribePartitioned } from './partitions/partitioned-subscription';
import { subscribeLaned } from './lanes/laned-subscription';
import { foldLanedTopics, listLanedGroups } from './lanes/admin';
import { lanedDeadLetters, lanedPending, trimLaned } from './lanes/admin-ops';
import { splitLaneOptions, type LaneSubscribeOptions } from './lanes/options';
import { foldPartitionedTopics, type TopicRow, listPartitionedGroups, listPartitionedPending, partitionedDeadLetters, trimPartitioned } from './partitions/admin';
import { Telemetry, checkTelemetryOptions, type TelemetryOptions } from './telemetry/telemetry';
import { instrumentPublish, traceGroupOperation } from './telemetry/tracing';
import { ConsumerTelemetry } from './telemetry/consumer';
import { probeClient, type ClientHealth, type HealthOptions } from './health';
import { checkLogger, logWarning, warnWhenUnobserved } from './telemetry/logging';

/** Options of a {@link Streamfan} client. */
export interface StreamfanOptions {
  /** Where Redis is. @defaultValue `process.env.REDIS_URL` or `redis://127.0.0.1:6379` */
  connection?: ConnectionOption;
  /** Extra ioredis options for every connection (for example `{ tls: { ca } }`). */
  redisOptions?: RedisOptions;
  /** Namespace of every key. @defaultValue 'streamfan' */
  prefix?: string;
  /** How long a status hash lives after its last write. @defaultValue 86400 (1 day) */
  statusTtlSeconds?: number;
  /**
   * Retention of each subscribed topic, on a timer: once per `intervalMs` per topic, whatever the
   * number of subscriptions and processes. `false` turns it off.
   * @defaultValue `{ intervalMs: 60000 }` (safe trimming only)
   */
  retention?: false | RetentionOptions;
  /** How often a publisher of delayed events promotes due ones, in ms (a whole number ≥ 1). @defaultValue 1000 */
  promoteIntervalMs?: number;
  /**
   * Where a subscription's errors go when nothing listens for its `error` event (they are
   * never silent); a subscription's own `logger` option wins. @defaultValue writes to stderr
   */
  logger?: Logger;
  /**
   * OpenTelemetry traces and metrics (docs/observability.md). By default the globally registered
   * providers are used, and with none registered nothing is recorded, at no cost.
   */
  telemetry?: TelemetryOptions;
}

/** Typed events of a {@link Streamfan} client. */
export interface StreamfanEvents {
  error: [error: Error];
  /** Something an operator should know, e.g. an eviction policy that could drop streams. */
  warning: [info: { message: string }];
  /** A retention run removed entries. */
  trimmed: [report: TrimReport];
  /** A hard `maxLen` cap removed entries some group had not acknowledged. */
  capLoss: [report: TrimReport];
}

// Every key of StreamfanOptions, or this does not compile: a new option cannot be forgotten here.
const CLIENT_OPTION_KEYS: Record<keyof StreamfanOptions, true> = {
  connection: true, redisOptions: true, prefix: true, statusTtlSeconds: true, retention: true, promoteIntervalMs: true, logger: true, telemetry: true,
};
const CLIENT_OPTIONS: ReadonlySet<string> = new Set(Object.keys(CLIENT_OPTION_KEYS));

/** Refuse what would fail later or silently: unknown keys (typos), NaN, Infinity, negative or absurd timers. */
function checkClientOptions(o: StreamfanOptions): void {
  if (typeof o !== 'object' || o === null) throw new InvalidOptionError('Streamfan options must be an object');
  const unknown = Object.keys(o).filter((k) => !CLIENT_OPTIONS.has(k));
  if (unknown.length > 0) throw new InvalidOptionError(`unknown Streamfan option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}: known options are ${[...CLIENT_OPTIONS].join(', ')}`);
  const p = o.promoteIntervalMs;
  if (p !== undefined && (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 2_147_483_647)) {
    throw new InvalidOptionError(`promoteIntervalMs must be a whole number of ms from 1 to 2147483647, got ${JSON.stringify(p) ?? String(p)}`);
  }
  const t = o.statusTtlSeconds;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < 0)) {
    throw new InvalidOptionError(`statusTtlSeconds must be a whole number ≥ 0 (0: keep forever), got ${String(t)}`);
  }
  if (o.redisOptions !== undefined && (typeof o.redisOptions !== 'object' || o.redisOptions === null || Array.isArray(o.redisOptions))) {
    throw new InvalidOptionError('redisOptions must be an object of ioredis options, e.g. { tls: { ca } }');
  }
  if (o.prefix !== undefined && typeof o.prefix !== 'string') throw new InvalidOptionError('prefix must be a string');
  checkTelemetryOptions(o.telemetry);
  checkLogger(o.logger, 'logger');
}

/**
 * The streamfan client: publish events, subscribe worker pools per group, read status,
 * inspect and repair. One client shares one command connection; each subscription opens
 * two of its own (a blocking reader and a worker connection).
 *
 * @example
 * ```ts
 * const sf = new Streamfan({ connection: process.env.REDIS_URL });
 * const signups = defineTopic<{ userId: string }>('user.signup');
 * sf.subscribe(signups, 'email', async (event) => sendWelcome(event.userId));
 * const id = await sf.publish(signups, { userId: 'u1' });
 * await sf.waitFor(signups, id);
 * ```
 */
export class Streamfan extends EventEmitter<StreamfanEvents> {
  readonly prefix: string;
  /** The shared command connection (publishing and admin). */
  readonly redis: Redis;
  private readonly connection: ConnectionOption;
  private readonly statusTtlSeconds: number;
  private readonly retention: ResolvedRetention | undefined;
  private readonly subscriptions = new Set<Subscription<unknown>>();
  private readonly promoteTimers = new Map<string, NodeJS.Timeout>();
  private subscriber: Redis | undefined;
  private closed: Promise<void> | undefined;
  private warnedEviction = false;
  /** Per topic: cancels its one-time status-memory check (see watchMemory). */
  private readonly memoryWatches = new Map<string, () => void>();
  private readonly ledger: ProducerLedger;
  /** Capability detection succeeded: the server is supported. */
  private serverChecked = false;
  /**
   * Set when detection found a server streamfan cannot run on, or data under the prefix in a wire
   * protocol version this library does not speak: every operation is refused with it.
   */
  private unsupported: UnsupportedServerError | ProtocolVersionError | undefined;
  private detecting: Promise<void> | undefined;
  /** The prefix's wire protocol version: read at connect, recorded before the first write (protocol.ts). */
  private readonly protocol: ProtocolGuard;
  /** Where spans and metrics go (OpenTelemetry API; nothing when nothing is registered). */
  private readonly telemetry: Telemetry;

  constructor(private readonly options: StreamfanOptions = {}) {
    super();
    checkClientOptions(options);
    this.prefix = validatePrefix(options.prefix ?? 'streamfan');
    this.connection = options.connection ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    this.statusTtlSeconds = options.statusTtlSeconds ?? 86_400;
    this.retention = resolveRetention(options.retention);
    this.redis = openConnection(this.connection, 'commands', options.redisOptions);
    this.redis.on('error', () => { /* each command reports its own failure */ });
    this.ledger = new ProducerLedger(this.redis, this.prefix);
    this.protocol = new ProtocolGuard(this.redis, this.prefix);
    this.telemetry = new Telemetry(options.telemetry);
    // Detect what the server can do once, at connect, so a server without what streamfan needs
    // (XAUTOCLAIM: older than Redis 6.2) is refused before anything is written. Detection that
    // failed for another reason (connection down) runs again when the connection is ready.
    this.detectServer();
    this.redis.on('ready', () => this.detectServer());
  }

  private detectServer(): void {
    if (this.serverChecked || this.unsupported || this.detecting) return;
    this.detecting = assertSupportedServer(this.redis).then(() => this.protocol.check()).then(
      () => { this.serverChecked = true; },
      (err: unknown) => { if (err instanceof UnsupportedServerError || err instanceof ProtocolVersionError) this.unsupported = err; },
    ).finally(() => { this.detecting = undefined; });
  }

  /**
   * Waits for the first capability detection (only until it has succeeded once), then records the
   * prefix's protocol version before this client's first write (once).
   * @throws UnsupportedServerError when the server lacks a command streamfan needs
   * @throws ProtocolVersionError when the prefix's data uses a protocol version this library does not speak
   */
  /** Whether the server was checked and the protocol recorded: a publish need not await {@link checkServer} (two awaits, 8–15 µs a call). */
  private get serverReady(): boolean {
    return this.serverChecked && this.protocol.isRecorded;
  }

  private async checkServer(): Promise<void> {
    if (!this.serverChecked && !this.unsupported && this.detecting) await this.detecting;
    if (this.unsupported) throw this.unsupported;
    try {
      await this.protocol.record();
    } catch (err) {
      this.unsupported = err as ProtocolVersionError;
      throw err;
    }
  }

  /** Where this client connects, without the password. */
  get url(): string {
    return describeConnection(this.connection);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('this Streamfan client');
  }

  /**
   * Publish one event. Resolves with its id once Redis has accepted it. With `delayMs` or
   * `runAt` it resolves with a delayed id (`delayed-…`) and the event enters the stream
   * when due; with `idempotencyKey` a repeat returns the first id and writes nothing.
   *
   * One call stores at most one entry, even when the connection drops while Redis answers
   * and ioredis re-sends the command: the re-sent call finds its first id in the client's
   * producer hash. Calls made in the same tick go to Redis together, in one script run.
   * A `RedisUnavailableError` means Redis may or may not have stored the event (its answer was
   * lost and the connection did not come back): publish again with an `idempotencyKey` to be sure.
   * @throws InvalidPayloadError, PayloadTooLargeError (nothing written), RedisUnavailableError, RedisOutOfMemoryError,
   *   UnsupportedServerError (a server older than Redis 6.2, found when the client connected; nothing written)
   */
  async publish<T>(topic: Topic<T> | string, payload: NoInfer<T>, options: PublishOptions = {}): Promise<string> {
    this.assertOpen();
    const t = publishTopic(topic);
    if (!this.serverReady) await this.checkServer();
    const id = await instrumentPublish(this.telemetry, t.name, 1, options, (o) => publishOne(this.redis, this.ledger, this.prefix, t, payload, o));
    const home = delayedHome(t, id);
    if (home !== undefined) this.keepPromoting(home);
    return id;
  }

  /**
   * Publish a batch in one round trip, atomically, at most once (as {@link Streamfan.publish}).
   * Every payload is validated first: one bad payload rejects the whole batch and nothing is
   * written. At most `MAX_BATCH_EVENTS` (10,000) events and `MAX_BATCH_BYTES` (64 MiB) encoded per call.
   * @returns the ids, in order
   * @throws InvalidOptionError over the batch cap (nothing written), and as {@link Streamfan.publish}
   */
  async publishMany<T>(topic: Topic<T> | string, payloads: readonly NoInfer<T>[], options: PublishManyOptions = {}): Promise<string[]> {
    this.assertOpen();
    const t = publishTopic(topic);
    if (!this.serverReady) await this.checkServer();
    const ids = await instrumentPublish(this.telemetry, t.name, Array.isArray(payloads) ? payloads.length : 0, options, (o) => publishBatch(this.redis, this.ledger, this.prefix, t, payloads, o));
    for (const home of new Set(ids.map((id) => delayedHome(t, id)))) if (home !== undefined) this.keepPromoting(home);
    return ids;
  }

  private keepPromoting(topic: string): void {
    if (this.promoteTimers.has(topic)) return;
    const keys = topicKeys(this.prefix, topic);
    const timer = setInterval(() => {
      noticeMode(this.redis, this.prefix)
        .then((mode) => promoteDelayed(this.redis, keys, { statusTtlSeconds: this.statusTtlSeconds, limit: 1000, mode }))
        .then(([, next]) => {
          if (next < 0) { clearInterval(timer); this.promoteTimers.delete(topic); }
        })
        .catch((err) => this.reportError(fromRedisError(err, `promote delayed events of "${topic}"`)));
    }, this.options.promoteIntervalMs ?? 1000);
    timer.unref();
    this.promoteTimers.set(topic, timer);
  }

  /**
   * Run a worker pool for `group` on `topic`. The group is created if needed (at `startFrom`).
   * Returns at once; listen to `ready`, or `await sub.ready()`.
   *
   * On a partitioned topic the group is created on every partition, and the group's consumers
   * share the partitions through leases (`leaseMs`), rebalancing as consumers come and go;
   * event ids (handler `ctx.id`, events) are `p<i>:…` (docs/partitions.md).
   *
   * On a prioritized topic the group is worked in every lane, and the consumer's `concurrency`
   * slots go to the highest lane with work first, with the `lowerLaneShare` starvation guard;
   * `ctx.priority` is the event's lane and ids off the default lane are `<lane>:…`
   * (docs/priorities.md). `ordering: 'key'` is refused there with {@link LaneOrderingError}.
   */
  subscribe<T, R = unknown>(topic: Topic<T> | string, group: string, handler: Handler<T, R>, options: SubscribeOptions & PartitionSubscribeOptions & LaneSubscribeOptions = {}): Subscription<T> {
    this.assertOpen();
    if (this.unsupported) throw this.unsupported;
    const t = toTopic(topic);
    validateGroupName(group);
    if (typeof handler !== 'function') throw new InvalidOptionError('subscribe needs a handler function: (payload, ctx) => result');
    const lanes = splitLaneOptions(options, t);
    const { rest, partition } = splitPartitionOptions(lanes.rest, t.name, t.partitions);
    const resolved = resolveSubscribeOptions(this.options.logger && rest.logger === undefined ? { ...rest, logger: this.options.logger } : rest);
    // Read the stream's end now, on the command connection, so a publish made after this call
    // is always after it: a new group starts there (see captureStreamEnd).
    const startAt = resolved.startFrom === 'latest' && t.partitions === undefined && t.priorities === undefined ? captureStreamEnd(this.redis, topicKeys(this.prefix, t.name).stream) : undefined;
    const retention = this.retention;
    const telemetry = new ConsumerTelemetry(this.telemetry, t.name, group);
    handler = telemetry.wrap(handler);
    // A lane or a partition is worked by a Subscription on its home ('T+L', 'T#i'), each with its retention.
    const composite = {
      connection: this.connection,
      redisOptions: this.options.redisOptions ?? {},
      prefix: this.prefix,
      statusTtlSeconds: this.statusTtlSeconds,
      commands: this.redis,
      ...(retention ? { retentionFor: (home: string) => ({ intervalMs: retention.intervalMs, run: () => this.runRetention(home, retention) }) } : {}),
    };
    const sub = t.priorities !== undefined ? subscribeLaned<T>(t, group, handler as Handler<T>, resolved, lanes.lowerLaneShare, composite)
      : t.partitions !== undefined ? subscribePartitioned<T>(t, group, handler as Handler<T>, resolved, partition, composite)
      : new Subscription<T>(t, group, handler as Handler<T>, resolved, {
      connection: this.connection,
      redisOptions: this.options.redisOptions ?? {},
      prefix: this.prefix,
      statusTtlSeconds: this.statusTtlSeconds,
      startAt,
      retention: retention && { intervalMs: retention.intervalMs, run: () => this.runRetention(t.name, retention) },
    });
    // Kept type-erased (a Subscription is invariant in T); only its lifecycle is used here.
    telemetry.attach(sub);
    warnWhenUnobserved(sub, resolved.logger, t.name, group);
    const erased = sub as unknown as Subscription<unknown>;
    this.subscriptions.add(erased);
    sub.once('closed', () => this.subscriptions.delete(erased));
    // Still detecting, or the protocol version not yet recorded by this client: an unsupported
    // server or protocol version closes the subscription, reporting why.
    void this.checkServer().catch((err: unknown) => {
      sub.report(err, 'connect');
      void sub.close();
    });
    void this.checkEvictionPolicy();
    if (resolved.trackStatus) this.watchMemory(t.name, t.partitions !== undefined && partition.ordering === 'key' ? group : undefined);
    return sub;
  }

  private async runRetention(topic: string, r: ResolvedRetention): Promise<void> {
    await loadScripts(this.redis, ['trimSafe', 'capTrim', 'countEntries']);
    const report = await runRetention(this.redis, this.prefix, topic, r, this.statusTtlSeconds);
    if (!report) return; // another subscription or process ran it this interval
    const lane = parseLaneHome(topic);
    if (lane) {
      // A lane's run (its home is `T+L`): report the topic's name and lane ids (docs/priorities.md §3).
      report.topic = lane.topic;
      report.lostIds = report.lostIds.map((id) => `${lane.lane}:${id}`);
    }
    if (report.removed > 0) this.emit('trimmed', report);
    if (report.lostToCap > 0) {
      if (this.listenerCount('capLoss') > 0) this.emit('capLoss', report);
      else logWarning(this.options.logger ?? defaultLogger, `retention's maxLen cap removed ${report.lostToCap} entries of "${report.topic}"${lane ? ` (lane ${lane.lane})` : ''} that some group had not acknowledged: they are recorded lost (${JSON.stringify(report.lostByGroup ?? {})})`);
    }
  }

  /**
   * Once per topic: warn when its status hashes, at the publish rate observed on its stream and
   * kept for statusTtlSeconds, would take over half of Redis' maxmemory (issue 17).
   */
  private watchMemory(topic: string, orderedGroup?: string): void {
    if (this.memoryWatches.has(topic)) return;
    this.memoryWatches.set(topic, watchStatusMemory(this.redis, this.prefix, topic, this.statusTtlSeconds, (message) => {
      if (this.listenerCount('warning') > 0) this.emit('warning', { message });
      else logWarning(this.options.logger ?? defaultLogger, message);
    }, undefined, orderedGroup === undefined ? [] : [orderedGroup]));
  }

  /** Warn once when Redis may evict stream keys under memory pressure. */
  private async checkEvictionPolicy(): Promise<void> {
    if (this.warnedEviction) return;
    this.warnedEviction = true;
    try {
      const [, policy] = (await this.redis.config('GET', 'maxmemory-policy')) as [string, string];
      if (policy && policy.startsWith('allkeys-')) {
        const message = `Redis maxmemory-policy is ${policy}: under memory pressure Redis may evict topic streams and lose events. Use noeviction (or volatile-*) for streamfan's Redis.`;
        if (this.listenerCount('warning') > 0) this.emit('warning', { message });
        else logWarning(this.options.logger ?? defaultLogger, message);
      }
    } catch { /* CONFIG may be refused by ACL: nothing to warn about then */ }
  }

  /**
   * An event's status in every group: state, attempts, result, error, times. `id` is a stream id
   * or a delayed id (O(1) both ways: a promoted delayed id leads to its event's status).
   * @throws InvalidIdError for anything else
   */
  async status<T>(topic: Topic<T> | string, id: string): Promise<EventStatus> {
    return readTopicStatus(this.redis, this.prefix, toTopic(topic) as Topic<unknown>, id);
  }

  /**
   * Resolve when the named groups have finished the event (succeeded, dead, lost, or skipped:
   * older than a group's `skipOlderThanMs`, acknowledged without running; final but not a
   * success, so check each group's `state`). `id` is the id publish returned: a stream id, or a delayed id (followed to its event once promoted).
   *
   * Default groups: the topic's streamfan groups at call time (those a streamfan subscriber
   * created; they have a redelivery stream). A group another program created on the stream is
   * waited for only when named in `groups`.
   *
   * No polling: it subscribes to the topic's notice channel (SSUBSCRIBE on a Cluster with
   * sharded Pub/Sub), keeps the topic's waiters key alive so the settle scripts publish, then
   * reads the status once, so an event finished before the call is seen too. The status is read
   * again only when a notice names the event, or after the subscriber reconnected.
   * @throws WaitTimeoutError, InvalidIdError
   */
  async waitFor<T>(topic: Topic<T> | string, id: string, options: WaitForOptions = {}): Promise<EventStatus> {
    this.assertOpen();
    await this.checkServer();
    if (!this.subscriber) {
      this.subscriber = openConnection(this.connection, 'subscriber', this.options.redisOptions);
      this.subscriber.on('error', () => undefined);
    }
    const sub = this.subscriber;
    // SUBSCRIBE sent while ioredis still runs its connect handshake can be lost (ioredis
    // issue #2037): the notification never comes and waitFor times out. Subscribe once ready.
    if (sub.status !== 'ready') await withTimeout(new Promise((r) => sub.once('ready', r)), options.timeoutMs ?? 30_000);
    const mode = await noticeMode(this.redis, this.prefix);
    return waitForTopicEvent(sub, this.redis, this.prefix, toTopic(topic) as Topic<unknown>, id, options, mode);
  }

  /** Delayed events of a topic, soonest first. */
  async delayed<T>(topic: Topic<T> | string, options: { limit?: number } = {}): Promise<DelayedEvent<T>[]> {
    const t = toTopic(topic);
    return topicDelayed(this.redis, this.prefix, t, options.limit ?? 100);
  }

  /** A group's dead letters: list, count, replay (to that group only), purge. */
  deadLetters<T>(topic: Topic<T> | string, group: string): {
    list(options?: { start?: string; count?: number }): Promise<DeadLetter<T>[]>;
    count(): Promise<number>;
    /** Replay `{ ids }`, the oldest `{ limit }`, or `{ all: true }`. @throws InvalidOptionError without a selection */
    replay(selection: DeadLetterSelection): Promise<number>;
    /** Delete `{ ids }`, the oldest `{ limit }`, or `{ all: true }`. @throws InvalidOptionError without a selection */
    purge(selection: DeadLetterSelection): Promise<number>;
  } {
    const t = toTopic(topic);
    validateGroupName(group);
    if (t.priorities !== undefined) {
      const l = lanedDeadLetters(this.redis, this.prefix, t, group, this.statusTtlSeconds);
      return { ...l, replay: (s) => traceGroupOperation(this.telemetry, 'replay', t.name, group, () => l.replay(s)) };
    }
    if (t.partitions !== undefined) {
      const p = partitionedDeadLetters(this.redis, this.prefix, t, group, this.statusTtlSeconds);
      return { ...p, replay: (s) => traceGroupOperation(this.telemetry, 'replay', t.name, group, () => p.replay(s)) };
    }
    return {
      list: (o) => listDeadLetters(this.redis, this.prefix, t, group, o),
      count: () => countDeadLetters(this.redis, this.prefix, t.name, group),
      replay: (s) => traceGroupOperation(this.telemetry, 'replay', t.name, group, () => replayDeadLetters(this.redis, this.prefix, t.name, group, s, this.statusTtlSeconds)),
      purge: (s) => purgeDeadLetters(this.redis, this.prefix, t.name, group, s),
    };
  }

  /** Trim a topic safely now (see {@link TrimOptions}). */
  async trim<T>(topic: Topic<T> | string, options: TrimOptions = {}): Promise<TrimReport> {
    await this.checkServer();
    await loadScripts(this.redis, ['trimSafe', 'capTrim', 'countEntries']);
    const t = toTopic(topic);
    if (t.priorities !== undefined) return trimLaned(this.redis, this.prefix, t as Topic<unknown>, options, this.statusTtlSeconds);
    if (t.partitions !== undefined) return trimPartitioned(this.redis, this.prefix, t.name, t.partitions, options, this.statusTtlSeconds);
    return trimTopic(this.redis, this.prefix, t.name, options, this.statusTtlSeconds);
  }

  /** Remove consumers idle at least `idleMs` that hold nothing. @returns the names removed */
  async pruneConsumers<T>(topic: Topic<T> | string, group: string, idleMs: number): Promise<string[]> {
    return topicPrune(this.redis, this.prefix, toTopic(topic), validateGroupName(group), idleMs);
  }

  /**
   * Every topic under this prefix (a partitioned topic: one row, summed, with `partitions` and
   * `partitionLengths`; a prioritized topic: one row, summed, with `lanes`, `defaultLane` and `laneLengths`).
   */
  async topics(): Promise<TopicRow[]> {
    return foldPartitionedTopics(this.redis, this.prefix, await foldLanedTopics(this.redis, this.prefix, await listTopics(this.redis, this.prefix)));
  }

  /**
   * Redis memory of one topic, or of every topic under the prefix, by kind of key: topic stream,
   * redelivery streams, retry sets, dead letters, status hashes, idempotency keys, delayed events.
   * Per-event keys (status, idempotency, delayed) are counted with SCAN in bounded pages and
   * measured with MEMORY USAGE on a sample, then extrapolated: each figure carries a 95% error,
   * and the number of commands is bounded by `options` whatever the size of the keyspace.
   * @throws InvalidNameError for a bad topic name, InvalidOptionError for bad limits
   */
  async memory<T>(topic?: Topic<T> | string, options?: MemoryOptions): Promise<MemoryReport> {
    return topicMemory(this.redis, this.prefix, topic === undefined ? undefined : toTopic(topic).name, options);
  }
  /**
   * Every group of a topic: lag, pending, consumers, dead letters. On a partitioned topic the
   * counts are summed over partitions, with one row per partition (owner, token) in `partitions`;
   * on a prioritized topic over lanes, with one row per lane in `lanes` (docs/priorities.md §6).
   */
  groups<T>(topic: Topic<T> | string): Promise<GroupInfo[]> {
    const t = toTopic(topic);
    if (t.priorities !== undefined) return listLanedGroups(this.redis, this.prefix, t as Topic<unknown>);
    return t.partitions !== undefined ? listPartitionedGroups(this.redis, this.prefix, t.name, t.partitions) : listGroups(this.redis, this.prefix, t.name);
  }
  /** Consumers of a group. */
  async consumers<T>(topic: Topic<T> | string, group: string): Promise<ConsumerInfo[]> { return topicConsumers(this.redis, this.prefix, toTopic(topic), group); }
  /** One page of a group's pending entries. */
  async pending<T>(topic: Topic<T> | string, group: string, query?: PendingQuery): Promise<PendingEntry[]> {
    const t = toTopic(topic);
    if (t.priorities !== undefined) return lanedPending(this.redis, this.prefix, t as Topic<unknown>, group, query);
    return t.partitions !== undefined ? listPartitionedPending(this.redis, this.prefix, t.name, t.partitions, group, query) : listPending(this.redis, this.prefix, t.name, group, query);
  }

  /**
   * One event's payload, headers and status in every group. `id` is a stream id or a delayed id
   * (a promoted delayed id shows its stream entry). When the entry was trimmed, the payload is
   * read from a dead letter that holds it.
   * @throws NotFoundError when nothing knows the id, InvalidIdError for a malformed id
   */
  async show<T>(topic: Topic<T> | string, id: string): Promise<EventDetails> { return topicShow(this, toTopic(topic), id); }

  /**
   * One page of a group's pending entries, oldest first, over both streams the group reads (the
   * topic, and its redelivery stream for retries and replays). Pass `next` as `after` for the
   * next page.
   */
  async pendingPage<T>(topic: Topic<T> | string, group: string, query?: PendingPageQuery): Promise<PendingPage> {
    return topicPendingPage(this, toTopic(topic), validateGroupName(group), query);
  }

  /**
   * Hand pending entries of a group to `consumer` (repair by hand: take them from a stuck
   * consumer). All or nothing. The delivery count is kept; the new owner must handle them or
   * they are reclaimed again after the visibility timeout.
   * @throws NotPendingError (nothing claimed) when an id is not pending in the group
   */
  async claim<T>(topic: Topic<T> | string, group: string, ids: readonly string[], consumer: string): Promise<ClaimedEntry[]> {
    return topicClaim(this, toTopic(topic), group, ids, consumer);
  }

  /**
   * Acknowledge pending entries of a group by hand (an operator decides they are done). All or
   * nothing. Each event's status in the group becomes `succeeded` (marked `ackedByHand`) and
   * waitFor is told; the consumer that held an entry can no longer ack or retry it.
   * @throws NotPendingError (nothing acknowledged) when an id is not pending in the group
   */
  async ack<T>(topic: Topic<T> | string, group: string, ids: readonly string[]): Promise<AckedEntry[]> {
    return topicAck(this, toTopic(topic), group, ids, { statusTtlSeconds: this.statusTtlSeconds });
  }

  /**
   * Retire a group for good: the service is gone and must not come back by itself. In one script
   * (on a prioritized topic, one per lane, highest lane first; the report sums them and lists each
   * in `lanes`; on a partitioned topic it is first listed retired on every partition, then one
   * script runs per partition, each in its own slot, the report listing each in `partitions`, and
   * a call cut short between partitions is finished by calling again): the group is destroyed on
   * the topic stream and on its redelivery stream, its redelivery stream and pending retries are
   * dropped (its dead letters too with `deleteDeadLetters`), and it is listed as retired. From then on:
   * - running subscriptions of the group stop when they notice (their next read or reclaim tick):
   *   they emit a {@link GroupRetiredError}, abort running handlers and close, instead of
   *   recreating the group; a new `subscribe` to it fails the same way (`ready()` rejects);
   * - retention no longer keeps entries for it; `waitFor` does not wait for it (a `waitFor` that
   *   named it in `groups` rejects with {@link GroupRetiredError});
   * - {@link Streamfan.groups} lists it with `retired: true`; `status()` keeps what it recorded
   *   before (until the status TTL) and no longer fills it in for other events.
   * Idempotent: retiring it again reports `alreadyRetired` and keeps the first time. Undo with
   * {@link Streamfan.unretireGroup}.
   * @throws NotFoundError when the topic has no such group (and it was never retired)
   */
  async retireGroup<T>(topic: Topic<T> | string, group: string, options: RetireOptions = {}): Promise<RetireReport> {
    this.assertOpen();
    await this.checkServer();
    return retireGroup(this, toTopic(topic).name, group, options);
  }

  /**
   * Take a retired group off the retired list (every lane's, every partition's), so a subscribe
   * may create it again. Nothing else is written: the next subscribe creates the group at its `startFrom` (default 'latest':
   * `'beginning'` would hand it every event the topic still retains).
   * @returns true when the group was retired, false when it was not
   */
  async unretireGroup<T>(topic: Topic<T> | string, group: string): Promise<boolean> {
    this.assertOpen();
    await this.checkServer();
    return unretireGroup(this, toTopic(topic).name, group);
  }

  /**
   * Yield a topic's events as they arrive (reads only: no group, nothing acknowledged). Opens
   * its own blocking connection, closed when the loop ends (break, `signal`, or an error).
   */
  async *tail<T>(topic: Topic<T> | string, options: TailOptions = {}): AsyncGenerator<TailedEvent> {
    this.assertOpen();
    const blocking = openConnection(this.connection, 'blocking', this.options.redisOptions);
    blocking.on('error', () => undefined);
    try {
      yield* topicTail(blocking, this.prefix, toTopic(topic), options);
    } finally {
      blocking.disconnect();
    }
  }

  /**
   * For a readiness probe: whether this client's connection answers PING, and every open
   * subscription's {@link Subscription.health} (connected, reading, last error, its group's lag),
   * within `timeoutMs` (default 1 s). `healthy` is false, with `problems` saying why, when any is not.
   */
  health(options?: HealthOptions): Promise<ClientHealth> {
    return probeClient(this.redis, [...this.subscriptions], options);
  }

  /** Subscriptions opened by this client and not yet closed. */
  get activeSubscriptions(): ReadonlyArray<Subscription<unknown>> { return [...this.subscriptions]; }

  /** Close every subscription (gracefully), then the connections. Safe to call twice. */
  /** An error of the client itself: to its 'error' listeners, or to the logger when nobody listens (never silent). */
  private reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else (this.options.logger ?? defaultLogger).error(err.message, err);
  }

  close(): Promise<void> {
    if (!this.closed) this.closed = this.shutdown();
    return this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> { await this.close(); }

  private async shutdown(): Promise<void> {
    for (const t of this.promoteTimers.values()) clearInterval(t);
    for (const stop of this.memoryWatches.values()) stop();
    await this.ledger.flush().catch(() => undefined);
    this.ledger.stop();
    await Promise.allSettled([...this.subscriptions].map((s) => s.close()));
    this.subscriber?.disconnect();
    // withTimeout clears its timer: a bare setTimeout here kept every process alive 1 s after close().
    try { await withTimeout(this.redis.quit(), 1000); } catch { /* already gone */ }
    this.redis.disconnect();
  }
}
