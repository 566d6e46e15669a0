/**
 * The only place that builds key names. Every key of one topic shares the hash tag
 * `{<topic>}`, so every multi-key script also runs on Redis Cluster.
 *
 * ```
 * <prefix>:{<topic>}:stream               the topic's stream, one consumer group per service
 * <prefix>:{<topic>}:delayed              delayed publishes (their delayed ids), scored by due time (server ms)
 * <prefix>:{<topic>}:delayed-id:<id>      hash: payload|headers|due while scheduled; event (the stream id) once promoted (TTL then)
 * <prefix>:{<topic>}:status:<eventId>     hash <group>:state|attempts|result|error|... (TTL)
 * <prefix>:{<topic>}:idem:<key>           idempotency marker → first event id (TTL)
 * <prefix>:{<topic>}:producer:<id>        one client's publish calls not yet answered → ids written (TTL, refreshed)
 * <prefix>:{<topic>}:done                 Pub/Sub channel: "<state>|<group>|<id,id,...>"
 * <prefix>:{<topic>}:waiters              exists (PX TTL, refreshed) while some waitFor listens; scripts publish on `done` only then
 * <prefix>:{<topic>}:retention-lock       short lock (SET NX PX) so one retention run per topic per interval
 * <prefix>:{<topic>}:retry:<group>        one group's retries, scored by due time
 * <prefix>:{<topic>}:redeliver:<group>    one group's redelivery stream (retries, replays)
 * <prefix>:{<topic>}:dlq:<group>          one group's dead letters (a stream)
 * ```
 */
export interface TopicKeys {
  readonly prefix: string;
  readonly topic: string;
  readonly stream: string;
  readonly delayed: string;
  readonly done: string;
  readonly waiters: string;
  readonly retentionLock: string;
  status(eventId: string): string;
  idempotency(key: string): string;
  producer(producerId: string): string;
  delayedRef(delayedId: string): string;
  retry(group: string): string;
  redeliver(group: string): string;
  deadLetters(group: string): string;
}

/** Build the keys of one topic. Names must already be validated. */
export function topicKeys(prefix: string, topic: string): TopicKeys {
  const base = `${prefix}:{${topic}}`;
  return {
    prefix,
    topic,
    stream: `${base}:stream`,
    delayed: `${base}:delayed`,
    done: `${base}:done`,
    waiters: `${base}:waiters`,
    retentionLock: `${base}:retention-lock`,
    status: (eventId) => `${base}:status:${eventId}`,
    idempotency: (key) => `${base}:idem:${key}`,
    producer: (producerId) => `${base}:producer:${producerId}`,
    delayedRef: (delayedId) => `${base}:delayed-id:${delayedId}`,
    retry: (group) => `${base}:retry:${group}`,
    redeliver: (group) => `${base}:redeliver:${group}`,
    deadLetters: (group) => `${base}:dlq:${group}`,
  };
}

/**
 * Prefix of the throwaway stream capability detection creates and deletes in one MULTI (see
 * capabilities.ts): under the client's prefix, so an ACL user limited to it may run it; its own
 * hash tag on a cluster.
 */
export function capabilityProbeKey(prefix: string): string {
  return `${prefix}:{capabilities}`;
}

/** SCAN pattern that matches every topic stream under a prefix. */
export function streamScanPattern(prefix: string): string {
  return `${prefix}:{*}:stream`;
}

/** The topic name inside a stream key built by {@link topicKeys}, or undefined. */
export function topicFromStreamKey(prefix: string, key: string): string | undefined {
  const head = `${prefix}:{`;
  const tail = '}:stream';
  if (!key.startsWith(head) || !key.endsWith(tail)) return undefined;
  return key.slice(head.length, key.length - tail.length);
}
