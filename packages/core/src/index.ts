/**
 * streamfan: fan-out over Redis Streams consumer groups. Publish an event once; every
 * group (service) handles it with its own worker pool, retries, dead letters and status.
 * @packageDocumentation
 */
export { Streamfan, type StreamfanOptions, type StreamfanEvents } from './client';
export { type DelayedEvent } from './delayed';
export { defineTopic, toTopic, DEFAULT_MAX_PAYLOAD_BYTES, type Topic, type TopicOptions, type PayloadOf } from './topic';
export { jsonCodec, assertJsonSafe, type Codec } from './codec';
export { Subscription } from './consumer/subscription';
export {
  resolveSubscribeOptions,
  type SubscribeOptions, type StartFrom, type Handler, type HandlerContext, type SubscriptionEvents, type DeadLetterReason,
} from './consumer/options';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOption } from './backoff';
export { type PublishOptions, type PublishManyOptions, type Headers, DELAYED_ID_PREFIX, FIELD, MAX_BATCH_EVENTS, MAX_BATCH_BYTES } from './publisher';
export { isFinalState, type EventStatus, type GroupStatus, type EventState } from './status';
export { type WaitForOptions } from './wait-for';
export { type DeadLetter, type DeadLetterSelection } from './dead-letters';
export { type RetentionOptions, type TrimOptions, type TrimReport } from './retention';
export { type TopicInfo, type GroupInfo, type ConsumerInfo, type PendingEntry, type PendingQuery } from './inspect';
export { topicKeys, type TopicKeys } from './keys';
export { validateTopicName, validateGroupName, validateConsumerName, validatePrefix } from './names';
export { type ConnectionOption, type ClusterConnection, describeConnection, isCluster } from './connection';
export * from './errors';
export * from './admin';
