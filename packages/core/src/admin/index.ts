// Repair and inspection helpers used by the CLI: hand claims and acks, one event's details,
// pending pages over both streams of a group, tailing, and lookups with helpful errors.
export { type AdminTarget } from './target';
export { requireTopic, requireGroup, lookupTopic } from './lookup';
export { NotPendingError } from './errors';
export { pendingPage, type PendingPage, type PendingPageQuery, type PendingRow } from './pending-page';
export { claimEntries, assertEntryIds, type ClaimedEntry } from './claim';
export { ackEntries, type AckedEntry, type AckOptions } from './ack';
export { showEvent, type EventDetails } from './show';
export { tailTopic, type TailedEvent, type TailOptions } from './tail';
export { retireGroup, unretireGroup, retiredGroups, assertNotRetired, type RetireOptions, type RetireReport } from './retire';
export {
  topicPendingPage, topicShow, topicClaim, topicAck, topicDelayed, topicTail, topicConsumers, topicPrune,
  type PartitionedConsumerInfo,
} from '../partitions/admin-ops';
export { releaseHeldKey } from '../partitions/admin';
