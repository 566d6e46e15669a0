import { StreamfanError, type Streamfan, type Topic } from '@streamfan/core';
import type { FaultPayload } from './protocol';

/** Options of a {@link SeqPublisher}. */
export interface SeqPublisherOptions {
  /** Events per publish call (publishMany when > 1). @defaultValue 1 */
  batch?: number;
  /** Pause between publish calls, in ms. @defaultValue 5 */
  intervalMs?: number;
  /** Pause after a failed publish, in ms. @defaultValue 100 */
  retryPauseMs?: number;
  /** Extra payload fields for one sequence number (poison, block, ...). */
  shape?: (seq: number) => Omit<FaultPayload, 'seq'>;
}

/**
 * Publishes events numbered 1, 2, 3... and remembers which publishes resolved, with the
 * event id Redis gave them. A publish that failed is not retried with the same number (its
 * outcome is unknown, so it may or may not exist): the next call takes the next number.
 */
export class SeqPublisher {
  /** seq → event id, for every publish that resolved. */
  readonly resolved = new Map<number, string>();
  /** Errors by code (e.g. REDIS_UNAVAILABLE), for publishes that failed. */
  readonly failures = new Map<string, number>();
  /** Last error seen (for messages). */
  lastError: Error | undefined;
  private next = 1;
  private running: Promise<void> | undefined;
  private stopFlag = false;

  constructor(private readonly sf: Streamfan, private readonly topic: Topic<FaultPayload>, private readonly options: SeqPublisherOptions = {}) {}

  /** The sequence number the next publish will use: every publish started from now on has a number ≥ this. */
  get nextSeq(): number { return this.next; }
  /** Publish calls attempted (events). */
  get attempted(): number { return this.next - 1; }

  private payload(seq: number): FaultPayload {
    return { ...(this.options.shape?.(seq) ?? {}), seq };
  }

  /** Publish one batch now; resolves false when Redis refused or could not be reached. */
  async publishOnce(): Promise<boolean> {
    const n = this.options.batch ?? 1;
    const seqs = Array.from({ length: n }, (_, i) => this.next + i);
    this.next += n;
    try {
      if (n === 1) {
        const id = await this.sf.publish(this.topic, this.payload(seqs[0]!));
        this.resolved.set(seqs[0]!, id);
      } else {
        const ids = await this.sf.publishMany(this.topic, seqs.map((s) => this.payload(s)));
        seqs.forEach((s, i) => this.resolved.set(s, ids[i]!));
      }
      return true;
    } catch (err) {
      const code = err instanceof StreamfanError ? err.code : 'OTHER';
      this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
      this.lastError = err as Error;
      return false;
    }
  }

  /** Publish `count` events (batches), waiting for each call. */
  async publishN(count: number): Promise<void> {
    const n = this.options.batch ?? 1;
    for (let i = 0; i < count; i += n) await this.publishOnce();
  }

  /** Publish continuously until {@link stop}. */
  start(): void {
    if (this.running) return;
    this.stopFlag = false;
    this.running = (async () => {
      while (!this.stopFlag) {
        const ok = await this.publishOnce();
        await new Promise((r) => setTimeout(r, ok ? this.options.intervalMs ?? 5 : this.options.retryPauseMs ?? 100));
      }
    })();
  }

  /** Stop publishing; resolves when the last call settled. */
  async stop(): Promise<void> {
    this.stopFlag = true;
    await this.running;
    this.running = undefined;
  }

  /** Failures as "CODE×n, ..." for the report. */
  describeFailures(): string {
    return [...this.failures].map(([c, n]) => `${c}×${n}`).join(', ') || 'none';
  }
}
