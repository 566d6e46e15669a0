import type { ActivityItem } from './activity';
import type { GroupSettings, Priority, SignupKind } from './config';
import type { OrdersView } from './orders';
import type { PoolCounters, WorkerView } from './worker-pool';

/** One pending entry of a group, as the pending panel shows it. */
export interface PendingView {
  /** The entry id (in the topic stream, or in the group's redelivery stream for a retry). */
  id: string;
  eventId: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
  source: 'topic' | 'redelivery';
  /** Whether the owner is a running worker, a crashed one, or a consumer this demo no longer runs. */
  owner: 'live' | 'crashed' | 'gone';
  /** Time until the entry counts as abandoned and any worker may reclaim it. */
  reclaimInMs: number;
}

/** One dead letter, as the dead letters panel shows it. */
export interface DeadLetterView {
  deadLetterId: string;
  id: string;
  attempts: number;
  error: string;
  reason: string;
  consumer: string;
  deadAt: number;
  signupId: string | null;
  plan: string | null;
}

/** One group's card. */
export interface GroupView {
  name: string;
  description: string;
  settings: GroupSettings;
  crashNext: number;
  stats: PoolCounters & {
    lag: number | null;
    pending: number;
    consumers: number;
    retrying: number;
    deadLetters: number;
    oldestPendingIdleMs: number | null;
    /** Events handled per second over the last 5 s. */
    throughput: number;
    /** The group's backlog in each priority lane, highest first: lag (not yet delivered) + pending; null when the lag is unknown. */
    lanes: Array<{ lane: Priority; lag: number | null; pending: number; backlog: number | null }>;
  };
  /** Events handled in each of the last 60 seconds. */
  series: number[];
  workers: WorkerView[];
  pending: PendingView[];
  deadLetters: DeadLetterView[];
}

/** One row of the events table. */
export interface EventRow {
  signupId: string;
  kind: SignupKind;
  /** The lane it was published to. */
  priority: Priority;
  publishedAt: number;
  /** Stream id; null for a delayed event no worker has seen yet. */
  eventId: string | null;
  delayedId: string | null;
  dueAt: number | null;
  groups: Record<string, { state: string; attempts: number }>;
}

/** One event's details in the drawer. */
export interface EventView {
  id: string;
  publishedAt: number | null;
  inStream: boolean;
  payloadFrom: string | null;
  payload: unknown;
  headers: Record<string, string>;
  dueAt: number | null;
  groups: Record<string, {
    state: string;
    attempts: number;
    result: unknown;
    error: string | null;
    consumer: string | null;
    updatedAt: number | null;
    finishedAt: number | null;
    nextAttemptAt: number | null;
    deadLetterId: string | null;
    deliveries: number | null;
    idleMs: number | null;
    heldByCrashedWorker: boolean;
  }>;
}

/** Everything the page shows, pushed every half second. */
export interface Snapshot {
  at: number;
  prefix: string;
  topic: string;
  redis: string;
  visibilityTimeoutMs: number;
  /** streamLength: entries in every lane's stream; lanes: each lane's stream length, highest first. */
  totals: { published: number; streamLength: number; delayed: number; lanes: Array<{ lane: Priority; length: number }> };
  groups: GroupView[];
  events: EventRow[];
  activity: ActivityItem[];
  /** The partitioned topic `order.updated` and its ordered group (null while starting). */
  orders: OrdersView | null;
}
