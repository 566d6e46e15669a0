/**
 * streamfan: fan-out over Redis Streams consumer groups. Publish an event once; every
 * group (service) handles it with its own worker pool, retries, dead letters and status.
 *
 * This entry exports what the README teaches and the types a user names. Every operation is
 * a method of {@link Streamfan}; helpers for the CLI, tests and tools are in
 * `@streamfan/core/internal` (no stability promise).
 * @packageDocumentation
 */
export { Streamfan, type StreamfanOptions, type StreamfanEvents } from './client';
export { defineTopic, DEFAULT_MAX_PAYLOAD_BYTES, type Topic, type TopicOptions, type PayloadOf } from './topic';
export { jsonCodec, type Codec } from './codec';
export type { Subscription, SubscriptionStats } from './consumer/subscription';
export type {
  SubscribeOptions, ResolvedSubscribeOptions, StartFrom, Handler, HandlerContext, SubscriptionEvents, DeadLetterReason, Logger,
} from './consumer/options';
export type { BackoffOption } from './backoff';
export { DELAYED_ID_PREFIX, MAX_BATCH_EVENTS, MAX_BATCH_BYTES, type PublishOptions, type PublishManyOptions, type Headers } from './publisher';
export type { DelayedEvent } from './delayed';
export type { EventStatus, GroupStatus, EventState } from './status';
export type { WaitForOptions } from './wait-for';
export type { DeadLetter, DeadLetterSelection } from './dead-letters';
export type { RetentionOptions, TrimOptions, TrimReport } from './retention';
export type { TopicInfo, GroupInfo, LaneGroupRow, ConsumerInfo, PendingEntry, PendingQuery } from './inspect';
export type { EventDetails } from './admin/show';
export type { PendingPage, PendingPageQuery, PendingRow } from './admin/pending-page';
export type { ClaimedEntry } from './admin/claim';
export type { AckedEntry } from './admin/ack';
export type { RetireOptions, RetireReport, StreamRetirement } from './admin/retire';
export type { TailedEvent, TailOptions } from './admin/tail';
export type { MemoryReport, TopicMemory, KindMemory, LaneMemory, MemoryKind, MemoryOptions } from './memory';
export type { ConnectionOption, ClusterConnection } from './connection';
export type { TelemetryOptions } from './telemetry/telemetry';
export type { HealthOptions, SubscriptionHealth, ClientHealth, LastError } from './health';
export {
  StreamfanError, InvalidNameError, InvalidOptionError, InvalidPayloadError, PayloadTooLargeError, InvalidIdError,
  RedisUnavailableError, RedisOutOfMemoryError, RedisCommandError, NotFoundError, ClosedError, WaitTimeoutError,
  DeadLetterError, UnsupportedServerError, ProtocolVersionError, GroupRetiredError, type ErrorCode,
} from './errors';
export { NotPendingError } from './admin/errors';
export { PartitionCountMismatchError, InvalidPartitionedIdError, PartialPublishError, PartitionedTopicNotSupportedError } from './partitions/errors';
export type { PartitionSubscribeOptions } from './partitions/options';
export type { PartitionContext } from './partitions/partitioned-subscription';
export type { PartitionedGroupInfo, PartitionGroupRow, PartitionedTrimReport, TopicRow } from './partitions/admin';
export { LaneMismatchError, UnknownLaneError, InvalidLaneIdError, LaneOrderingError } from './lanes/errors';
export type { LaneSubscribeOptions } from './lanes/options';
export type { LaneActivity, LanedSubscription, LanedStats } from './lanes/laned-subscription';
export type { LanedTrimReport } from './lanes/admin-ops';
