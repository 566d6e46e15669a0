/**
 * Internals for the CLI, the examples, the test suites and tools: key names, wire fields,
 * option resolution and the admin functions behind {@link Streamfan}'s methods. No stability
 * promise: applications use `@streamfan/core` (its methods) instead.
 * @packageDocumentation
 */
export * from './index';
export { topicKeys, type TopicKeys } from './keys';
export { FIELD } from './publisher';
export { toTopic } from './topic';
export { assertJsonSafe } from './codec';
export { Subscription as SubscriptionClass } from './consumer/subscription';
export { resolveSubscribeOptions, defaultLogger } from './consumer/options';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff';
export { isFinalState, assertStreamId, readSuccessMatrix, readSuccessRecords, mergeSuccessRecords } from './status';
export type { SuccessRecord } from './status-records';
export { validateTopicName, validateGroupName, validateConsumerName, validatePrefix } from './names';
export { describeConnection, isCluster } from './connection';
export { fromRedisError, isNoGroup } from './errors';
export * from './admin';
export { partitionKeys, partitionTag, topicMetaKeys, classifyStreamKey, type PartitionKeys } from './keys';
export { formatPartitionedId, parsePartitionedId, isPartitionedId } from './partitions/partitionKeys';
export { murmur2, partitionForKey } from './partitions/hash';
export { countLag, streamEnds, LAG_COUNT_CAP, type CountedLag, type StreamEnds } from './lag';
export { laneKeys, laneHome, parseLaneHome, topicFromStreamKey, laneAwareScanPattern, LANE_SEPARATOR, LANE_NAME, MAX_LANES } from './keys';
export { formatLaneId, parseLaneId, isLaneId, validateLanes, type LaneSet } from './lanes/ids';
export { readLanes, ensureLanes, type StoredLanes } from './lanes/meta';
export { LanedSubscription, laneAllowance } from './lanes/laned-subscription';
export { LaneSlots, type LaneSlotStats } from './lanes/slots';
export { listLanedGroups, lanesOf, foldLanedTopics } from './lanes/admin';
export {
  lanedDeadLetters, lanedPending, lanedPendingPage, lanedShow, lanedAck, lanedClaim, lanedDelayed, lanedTail, lanedConsumers, lanedPrune, trimLaned,
  type LanedDeadLetters, type LanedTrimReport,
} from './lanes/admin-ops';
export { splitLaneOptions, DEFAULT_LOWER_LANE_SHARE } from './lanes/options';
