/** What the ordered-partition faults (14–17), their worker processes and their checks agree on. */

/** Configuration of one ordered worker process. */
export interface OrderedWorkerConfig {
  url: string;
  /** A Redis Cluster's startup nodes: connect to the cluster instead of `url`. */
  cluster?: Array<{ host: string; port: number }>;
  prefix: string;
  topic: string;
  partitions: number;
  group: string;
  consumer: string;
  log: string;
  ordering: 'key' | 'none';
  leaseMs: number;
  concurrency: number;
  /** Handler latency: uniform in [0, maxLatencyMs]. */
  maxLatencyMs: number;
  /** Share of attempts that throw (transient failure). */
  failRate: number;
  maxAttempts: number;
  backoffMs: number;
  /** How often to poll when idle, passed as blockMs. */
  blockMs?: number;
  /** What a dead letter does to its key's later events. @defaultValue 'continue' */
  afterDeadLetter?: 'continue' | 'hold';
  /** File of healed events (`key#seq` a line): a poison event succeeds once listed there. */
  healFile?: string;
}

/** Payload of an ordered-fault event: its key and its number within the key (0, 1, 2, … in publish order). */
export interface KeyedPayload { key: string; seq: number; /** Dead-letter it (ctx.deadLetter) until healed. */ poison?: boolean }

/** One line of an ordered worker's log. */
export type OrderedRecord =
  | { k: 's'; key: string; seq: number; id: string; attempt: number; token: number; partition: number; consumer: string; t: number }
  | { k: 'e'; key: string; seq: number; id: string; attempt: number; ok: boolean; consumer: string; t: number }
  | { k: 'ev'; type: string; consumer: string; t: number; data?: unknown };
