/**
 * Health of subscriptions and clients, for readiness probes (`sub.health()`, `sf.health()`):
 * whether the connections are up, whether the consumer reads, its last error, and its group's lag
 * read from Redis (one pipeline, bounded by a timeout, so a probe never hangs on a dead Redis).
 */
import type Redis from 'ioredis';
import { InvalidOptionError, type StreamfanError } from './errors';
import type { GroupInfo } from './inspect';
import { withTimeout } from './timing';

/** Options of `health()`. */
export interface HealthOptions {
  /** How long the lag query may take before the probe answers without it (and unhealthy). @defaultValue 1000 */
  timeoutMs?: number;
  /** Unhealthy when the group's lag (entries not yet delivered to it) is above this. @defaultValue no limit */
  maxLag?: number;
}

/** The last error a subscription reported (to its `error` listeners or its logger). */
export interface LastError {
  name: string;
  code: string;
  message: string;
  at: Date;
}

/** What `sub.health()` answers. */
export interface SubscriptionHealth {
  /** Connected, reading, its lag read in time and within `maxLag`: ready to take traffic. */
  healthy: boolean;
  topic: string;
  group: string;
  consumer: string;
  /** Every Redis connection of the subscription is ready. */
  connected: boolean;
  /** Started (groups created), not closing, and its last read did not fail. */
  reading: boolean;
  /** The last error reported, however long ago (`at` says when), or null. */
  lastError: LastError | null;
  /** The group's entries not yet delivered (topic and redelivery streams), or null when Redis did not answer in time. */
  lag: number | null;
  /** The group's entries delivered and not yet acknowledged, or null when Redis did not answer in time. */
  pending: number | null;
  /** Why it is not healthy (empty when healthy). */
  problems: string[];
}

/** What `sf.health()` answers. */
export interface ClientHealth {
  /** The client's connection is up and every subscription is healthy. */
  healthy: boolean;
  /** The client's command connection (publish, admin) answers. */
  connected: boolean;
  subscriptions: SubscriptionHealth[];
  /** Why it is not healthy, each prefixed with the group it concerns (empty when healthy). */
  problems: string[];
}

/** A subscription's state as its class sees it, for {@link probeSubscription}. @internal */
export interface ProbeState {
  topic: string;
  group: string;
  consumer: string;
  connections: readonly Redis[];
  started: boolean;
  closing: boolean;
  readFailing: boolean;
  retired: boolean;
  lastError: LastError | undefined;
  /** The group's row of `groups()` (undefined when Redis does not know it). */
  groupInfo: () => Promise<GroupInfo | undefined>;
}

/** Record a reported error as the last one. @internal */
export function lastErrorOf(e: Error): LastError {
  return { name: e.name, code: (e as Partial<StreamfanError>).code ?? 'UNKNOWN', message: e.message, at: new Date() };
}

export function checkHealthOptions(o: HealthOptions): { timeoutMs: number; maxLag: number } {
  if (typeof o !== 'object' || o === null) throw new InvalidOptionError('health options must be an object: { timeoutMs?, maxLag? }');
  const timeoutMs = o.timeoutMs ?? 1000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) throw new InvalidOptionError(`health timeoutMs must be a whole number of ms from 1 to 600000, got ${String(o.timeoutMs)}`);
  const maxLag = o.maxLag ?? Infinity;
  if (maxLag !== Infinity && (!Number.isInteger(maxLag) || maxLag < 0)) throw new InvalidOptionError(`health maxLag must be a whole number ≥ 0, got ${String(o.maxLag)}`);
  return { timeoutMs, maxLag };
}

/** A subscription's health now (see {@link SubscriptionHealth}). @internal */
export async function probeSubscription(s: ProbeState, options: HealthOptions = {}): Promise<SubscriptionHealth> {
  const { timeoutMs, maxLag } = checkHealthOptions(options);
  const problems: string[] = [];
  const connected = s.connections.every((c) => c.status === 'ready');
  const reading = s.started && !s.closing && !s.readFailing && connected;
  if (s.retired) problems.push('the group was retired');
  else if (s.closing) problems.push('closed (or closing)');
  else if (!s.started) problems.push('not started yet (creating the group, or Redis unreachable)');
  if (!connected) problems.push(`not connected to Redis (${s.connections.map((c) => c.status).join(', ')})`);
  else if (s.readFailing) problems.push(`its reads fail${s.lastError ? `: ${s.lastError.message}` : ''}`);
  let lag: number | null = null;
  let pending: number | null = null;
  if (connected && !s.closing) {
    try {
      const info = await withTimeout(s.groupInfo().then((g) => g ?? null), timeoutMs);
      if (info === undefined) problems.push(`Redis did not answer the lag query within ${timeoutMs} ms`);
      else if (info === null) problems.push('the group does not exist in Redis');
      else {
        lag = info.lag;
        pending = info.pending;
        if (lag !== null && lag > maxLag) problems.push(`lag ${lag} is above maxLag ${maxLag}`);
      }
    } catch (err) {
      problems.push(`the lag query failed: ${(err as Error).message}`);
    }
  }
  return {
    healthy: problems.length === 0,
    topic: s.topic, group: s.group, consumer: s.consumer,
    connected, reading, lastError: s.lastError ?? null, lag, pending, problems,
  };
}

/** A client's health: its connection (PING within the timeout) and every subscription's. @internal */
export async function probeClient(redis: Redis, subscriptions: ReadonlyArray<{ health(o?: HealthOptions): Promise<SubscriptionHealth> }>, options: HealthOptions = {}): Promise<ClientHealth> {
  const { timeoutMs } = checkHealthOptions(options);
  const [pong, subs] = await Promise.all([
    redis.status === 'ready' ? withTimeout(redis.ping().catch(() => undefined), timeoutMs) : Promise.resolve(undefined),
    Promise.all(subscriptions.map((s) => s.health(options))),
  ]);
  const connected = pong === 'PONG';
  const problems = [
    ...(connected ? [] : ['the client is not connected to Redis']),
    ...subs.flatMap((h) => h.problems.map((p) => `${h.group}@${h.topic}: ${p}`)),
  ];
  return { healthy: problems.length === 0, connected, subscriptions: subs, problems };
}
