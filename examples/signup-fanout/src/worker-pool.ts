import { laneKeys, topicKeys, type HandlerContext, type Streamfan, type Subscription } from '@streamfan/core/internal';
import type { Activity } from './activity';
import { DEFAULT_PRIORITY, DEMO_BACKOFF, GROUP_DESCRIPTIONS, LIMITS, PRIORITIES, signups, type GroupName, type GroupSettings, type Signup } from './config';
import { SimulatedFailure, businessResult, never, work } from './simulation';
import { Throughput } from './throughput';

/** Where one worker stands, as the page shows it. */
export type WorkerState = 'starting' | 'idle' | 'busy' | 'stopping' | 'crashed';

/** One worker (a consumer of the group) on the page. */
export interface WorkerView {
  name: string;
  slot: number;
  state: WorkerState;
  /** The event it handles now, or holds since it crashed. */
  current: string | null;
  processed: number;
  since: number;
}

/** Counts since the pool started (or the last reset). */
export interface PoolCounters {
  /** Distinct events this group handled successfully. */
  processed: number;
  /** Deliveries to a handler that were not an event's first: retries, takeovers, replays. */
  redeliveries: number;
  /** Attempts that failed and were scheduled for a retry. */
  retries: number;
  deadLettered: number;
  /** Entries taken by XAUTOCLAIM, as the library reports them. */
  reclaimed: number;
  /** Workers that froze mid-handler. */
  crashes: number;
  /** Events a crashed worker held that another worker then took over. */
  takeovers: number;
  /** Acks refused because another worker owned the entry by then. */
  stale: number;
  errors: number;
}

interface Worker {
  slot: number;
  name: string;
  sub: Subscription<Signup> | undefined;
  state: WorkerState;
  current: string | null;
  since: number;
}

/** What a pool needs from the demo. */
export interface PoolDeps {
  sf: Streamfan;
  activity: Activity;
  visibilityTimeoutMs: number;
  /** Called when a handler first sees an event, so delayed events can be followed by their stream id. */
  onSeen(signupId: string, eventId: string): void;
}

/**
 * One service: a consumer group with its own worker pool. Each worker is one
 * {@link Subscription} (one consumer, one handler at a time), like one process of the
 * service. A crash freezes a worker mid-handler: it stops renewing its lease and reading,
 * a replacement starts under a new consumer name, and the frozen entry stays pending until
 * another worker reclaims it (XAUTOCLAIM) after the visibility timeout.
 */
export class GroupPool {
  readonly settings: GroupSettings;
  crashNext = 0;
  readonly throughput = new Throughput();
  private live: Worker[] = [];
  private stopping: Worker[] = [];
  private crashed: Worker[] = [];
  /** Event id → name of the crashed worker that holds it. */
  private readonly heldByCrashed = new Map<string, string>();
  private readonly succeeded = new Set<string>();
  /** Events handed to a handler at least once, to tell first deliveries from redeliveries. */
  private readonly delivered = new Set<string>();
  private redeliveries = 0;
  private readonly counters: Omit<PoolCounters, 'processed' | 'redeliveries'> = { retries: 0, deadLettered: 0, reclaimed: 0, crashes: 0, takeovers: 0, stale: 0, errors: 0 };
  private readonly processedBy = new Map<string, number>();
  private readonly generations = new Map<number, number>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(readonly name: GroupName, settings: GroupSettings, private readonly deps: PoolDeps) {
    this.settings = { ...settings };
  }

  /** Start the workers the settings ask for; resolves when they read. */
  async start(): Promise<void> {
    await this.reconcile();
    await Promise.all(this.live.map((w) => w.sub?.ready().catch(() => undefined)));
  }

  /** Change knobs. Worker count and start/stop resize the pool; max attempts restarts it (options are per consumer). */
  async update(patch: Partial<GroupSettings>): Promise<void> {
    const restart = patch.maxAttempts !== undefined && patch.maxAttempts !== this.settings.maxAttempts;
    const resize = (patch.workers !== undefined && patch.workers !== this.settings.workers) || (patch.running !== undefined && patch.running !== this.settings.running);
    Object.assign(this.settings, patch);
    if (resize && patch.workers !== undefined) this.deps.activity.add('scale', `${this.name}: ${this.settings.workers} worker${this.settings.workers === 1 ? '' : 's'}`, this.name, `scale:${this.name}`);
    if (patch.running !== undefined && resize) this.deps.activity.add('scale', `${this.name} ${patch.running ? 'started: workers read from where the group left off' : 'stopped: events wait in the stream (lag grows)'}`, this.name);
    if (restart) {
      this.deps.activity.add('scale', `${this.name}: max attempts ${this.settings.maxAttempts}; workers restart gracefully`, this.name);
      await this.enqueue(() => this.restartAll());
    } else if (resize) {
      await this.reconcile();
    }
  }

  /** Make the next `n` deliveries to this group crash their worker. */
  crash(n: number): void {
    this.crashNext = Math.min(LIMITS.crashNext.max, this.crashNext + n);
    this.deps.activity.add('crash', `${this.name}: the next ${this.crashNext} deliver${this.crashNext === 1 ? 'y' : 'ies'} will crash their worker`, this.name);
  }

  /** Names of the consumers run by live (not crashed) workers. */
  liveConsumers(): Set<string> {
    return new Set([...this.live, ...this.stopping].map((w) => w.name));
  }

  /** Names of the consumers of crashed workers. */
  crashedConsumers(): Set<string> {
    return new Set(this.crashed.map((w) => w.name));
  }

  counts(): PoolCounters {
    return { processed: this.succeeded.size, redeliveries: this.redeliveries, ...this.counters };
  }

  workers(): WorkerView[] {
    return [...this.live, ...this.stopping, ...this.crashed]
      .sort((a, b) => a.slot - b.slot || a.since - b.since)
      .map((w) => ({ name: w.name, slot: w.slot, state: w.state, current: w.current, processed: this.processedBy.get(w.name) ?? 0, since: w.since }));
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(step).catch((err: Error) => {
      this.counters.errors++;
      this.deps.activity.add('error', `${this.name}: ${err.message}`, this.name);
    });
    return this.chain;
  }

  private reconcile(): Promise<void> {
    return this.enqueue(() => this.resize());
  }

  private async resize(): Promise<void> {
    if (this.closed) return;
    const want = this.settings.running ? this.settings.workers : 0;
    const used = new Set(this.live.map((w) => w.slot));
    for (let slot = 1; this.live.length < want && slot <= LIMITS.workers.max; slot++) {
      if (!used.has(slot)) this.startWorker(slot);
    }
    if (this.live.length > want) {
      const extra = [...this.live].sort((a, b) => b.slot - a.slot).slice(0, this.live.length - want);
      await this.stopWorkers(extra);
    }
  }

  private async restartAll(): Promise<void> {
    await this.stopWorkers([...this.live]);
    await this.resize();
  }

  private async stopWorkers(list: Worker[]): Promise<void> {
    this.live = this.live.filter((w) => !list.includes(w));
    for (const w of list) { w.state = 'stopping'; this.stopping.push(w); }
    await Promise.all(list.map((w) => w.sub?.close(2000).catch(() => undefined)));
    this.stopping = this.stopping.filter((w) => !list.includes(w));
  }

  private startWorker(slot: number): void {
    const gen = (this.generations.get(slot) ?? 0) + 1;
    this.generations.set(slot, gen);
    const w: Worker = { slot, name: gen === 1 ? `${this.name}-w${slot}` : `${this.name}-w${slot}.${gen}`, sub: undefined, state: 'starting', current: null, since: Date.now() };
    const sub = this.deps.sf.subscribe(signups, this.name, (payload, ctx) => this.handle(w, payload, ctx), {
      consumer: w.name,
      concurrency: 1,
      visibilityTimeoutMs: this.deps.visibilityTimeoutMs,
      reclaimIntervalMs: 300,
      maxAttempts: this.settings.maxAttempts,
      backoff: DEMO_BACKOFF,
      startFrom: 'beginning',
      blockMs: 2000,
      shutdownGraceMs: 2000,
    });
    w.sub = sub;
    this.live.push(w);
    this.listen(w, sub);
  }

  private listen(w: Worker, sub: Subscription<Signup>): void {
    const a = this.deps.activity;
    sub.once('ready', () => {
      if (w.state === 'starting') w.state = 'idle';
      // Redis creates a consumer at its first delivery, so an idle pool would show 0 consumers
      // beside its running workers: register this one now (XGROUP CREATECONSUMER, Redis 6.2+).
      const keys = topicKeys(this.deps.sf.prefix, signups.name);
      void this.deps.sf.redis.xgroup('CREATECONSUMER', keys.stream, this.name, w.name).catch(() => 0);
    });
    sub.on('processed', ({ id }) => {
      this.succeeded.add(id);
      this.processedBy.set(w.name, (this.processedBy.get(w.name) ?? 0) + 1);
      this.throughput.add();
    });
    sub.on('failed', ({ id, attempt, retryInMs }) => {
      this.counters.retries++;
      a.add('retry', `${this.name}: ${id} failed attempt ${attempt}, retry in ${retryInMs} ms`, this.name, `retry:${this.name}`);
    });
    sub.on('deadLettered', ({ id, attempt, reason, error }) => {
      this.counters.deadLettered++;
      const holder = this.heldByCrashed.get(id);
      if (holder) this.release(id);
      a.add('dead', `${this.name}: ${id} dead-lettered after ${attempt} attempt${attempt === 1 ? '' : 's'} (${reason}): ${error}`, this.name, `dead:${this.name}:${reason}`);
    });
    // Counted, not logged: besides crashed workers' entries, XAUTOCLAIM also picks up entries a
    // busy worker handed back (it read two streams and had one free slot). Takeovers of a
    // crashed worker's event are logged where the handler sees them.
    sub.on('reclaimed', ({ ids }) => { this.counters.reclaimed += ids.length; });
    sub.on('stale', ({ ids }) => {
      this.counters.stale += ids.length;
      a.add('stale', `${w.name}: ack of ${ids.join(', ')} refused, another worker owns it now`, this.name);
    });
    sub.on('leaseLost', ({ id }) => a.add('stale', `${w.name} lost its lease on ${id}: another worker reclaimed it`, this.name));
    sub.on('error', (err) => {
      this.counters.errors++;
      a.add('error', `${w.name}: ${err.message}`, this.name, `error:${this.name}`);
    });
  }

  /** The simulated service: latency, failures and crashes as the knobs say, then the real result. */
  private async handle(w: Worker, payload: Signup, ctx: HandlerContext): Promise<unknown> {
    this.deps.onSeen(payload.signupId, ctx.id);
    if (this.delivered.has(ctx.id)) this.redeliveries++;
    else this.delivered.add(ctx.id);
    const holder = this.heldByCrashed.get(ctx.id);
    if (holder && holder !== w.name) {
      this.counters.takeovers++;
      this.release(ctx.id);
      this.deps.activity.add('takeover', `${w.name} took over ${ctx.id} from crashed ${holder} (attempt ${ctx.attempt} of ${ctx.maxAttempts})`, this.name);
    }
    w.state = 'busy';
    w.current = ctx.id;
    const crashNow = this.crashNext > 0 ? (this.crashNext--, true) : Math.random() < this.settings.hangRate;
    if (crashNow) {
      this.crashWorker(w, ctx);
      return never();
    }
    try {
      await work(this.settings.latencyMs, ctx.signal);
      if (Math.random() < this.settings.failureRate) throw new SimulatedFailure(this.name, ctx.attempt);
      return businessResult(this.name, payload, ctx);
    } finally {
      if (w.state === 'busy') { w.state = 'idle'; w.current = null; }
    }
  }

  /**
   * Freeze a worker the way a killed process or a stuck event loop would: its handler never
   * returns, it stops reading and renewing leases (the subscription closes with no grace, and
   * keeps its pending entry because the handler never settles). A replacement starts.
   */
  private crashWorker(w: Worker, ctx: HandlerContext): void {
    w.state = 'crashed';
    w.current = ctx.id;
    this.live = this.live.filter((x) => x !== w);
    this.stopping = this.stopping.filter((x) => x !== w);
    this.crashed.push(w);
    this.heldByCrashed.set(ctx.id, w.name);
    this.counters.crashes++;
    this.deps.activity.add('crash', `${w.name} froze handling ${ctx.id} (attempt ${ctx.attempt}); it stops renewing its lease, so after ${this.deps.visibilityTimeoutMs / 1000} s another worker reclaims the entry`, this.name);
    void w.sub?.close(0).catch(() => undefined);
    if (!this.closed) void this.reconcile();
  }

  /** A crashed worker's event was taken over or dead-lettered: forget the worker once it holds nothing. */
  private release(eventId: string): void {
    const holder = this.heldByCrashed.get(eventId);
    this.heldByCrashed.delete(eventId);
    if (holder && ![...this.heldByCrashed.values()].includes(holder)) {
      this.crashed = this.crashed.filter((w) => w.name !== holder);
      void this.removeConsumer(holder).catch((err: Error) => this.deps.activity.add('error', `${this.name}: could not remove consumer ${holder}: ${err.message}`, this.name));
    }
  }

  /**
   * Remove a crashed worker's consumer from the group once it holds nothing (XPENDING on both
   * streams first: deleting a consumer drops its pending entries). Nobody reads as a crashed
   * consumer, so it cannot gain an entry between the check and the delete.
   */
  private async removeConsumer(name: string): Promise<void> {
    const sf = this.deps.sf;
    const [fromTopic, fromRedelivery] = await Promise.all([
      sf.pending(signups, this.name, { consumer: name, source: 'topic', limit: 1 }),
      sf.pending(signups, this.name, { consumer: name, source: 'redelivery', limit: 1 }).catch(() => []),
    ]);
    if (fromTopic.length > 0 || fromRedelivery.length > 0) return;
    const keys = topicKeys(sf.prefix, signups.name);
    await sf.redis.xgroup('DELCONSUMER', keys.stream, this.name, name);
    await sf.redis.xgroup('DELCONSUMER', keys.redeliver(this.name), this.name, name).catch(() => 0);
    // The other priority lanes' streams (the default lane's are the topic's own keys).
    for (const lane of PRIORITIES.filter((l) => l !== DEFAULT_PRIORITY)) {
      const lk = laneKeys(sf.prefix, signups.name, lane, DEFAULT_PRIORITY);
      await sf.redis.xgroup('DELCONSUMER', lk.stream, this.name, name).catch(() => 0);
      await sf.redis.xgroup('DELCONSUMER', lk.redeliver(this.name), this.name, name).catch(() => 0);
    }
    this.deps.activity.add('scale', `${this.name}: removed consumer ${name} of the crashed worker (it holds nothing now)`, this.name);
  }

  /** Stop every worker (graceful for live ones); nothing restarts afterwards. */
  async close(graceMs = 1000): Promise<void> {
    this.closed = true;
    await this.chain;
    const all = [...this.live, ...this.stopping, ...this.crashed];
    this.live = [];
    this.stopping = [];
    await Promise.all(all.map((w) => w.sub?.close(graceMs).catch(() => undefined)));
  }

  get description(): string {
    return GROUP_DESCRIPTIONS[this.name];
  }
}
