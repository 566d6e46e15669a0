import { preferenceOrder, planShares, quotas } from '../src/partitions/quotas';
import type { LeaseView } from '../src/partitions/leases';

/** A small seeded PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An in-memory lease table with the scripts' rules (acquire only when free, release sets
 * until 0) and consumers that each run planShares once per tick, in random order.
 */
class Sim {
  leases: LeaseView[];
  now = 1_000_000;
  moves = 0;
  constructor(readonly partitions: number, public members: string[], private readonly rnd: () => number) {
    this.leases = Array.from({ length: partitions }, (_, partition) => ({ partition, token: 0, until: 0 }));
  }
  tick(): boolean {
    let changed = false;
    const order = [...this.members].sort(() => this.rnd() - 0.5);
    for (const me of order) {
      const plan = planShares({ partitions: this.partitions, members: this.members, leases: this.leases, me, now: this.now });
      for (const p of plan.release) { this.leases[p]!.until = 0; changed = true; this.moves++; }
      let got = 0;
      for (const p of plan.acquire) {
        if (got >= plan.wanted) break;
        const l = this.leases[p]!;
        if (l.owner !== undefined && l.until >= this.now && l.until !== 0) continue; // lost the race
        Object.assign(l, { owner: me, token: l.token + 1, until: this.now + 10_000 });
        got++;
        changed = true;
      }
    }
    this.now += 100;
    return changed;
  }
  /** Ticks until nothing changes; returns how many ticks changed something. */
  settle(limit = 50): number {
    let ticks = 0;
    while (this.tick()) if (++ticks > limit) throw new Error('did not converge');
    return ticks;
  }
  counts(): Map<string, number> {
    const c = new Map(this.members.map((m) => [m, 0]));
    for (const l of this.leases) if (l.owner !== undefined && l.until >= this.now) c.set(l.owner, (c.get(l.owner) ?? 0) + 1);
    return c;
  }
  /** A member crashes: it leaves the member set and its leases expire (time jumps past them). */
  crash(member: string): void {
    this.members = this.members.filter((m) => m !== member);
    this.now += 10_001;
    for (const l of this.leases) if (l.owner !== undefined && this.members.includes(l.owner)) l.until = this.now + 10_000;
  }
}

function expectFair(sim: Sim): void {
  const counts = [...sim.counts().values()];
  expect(counts.reduce((a, b) => a + b, 0)).toBe(sim.partitions);
  const lo = Math.floor(sim.partitions / sim.members.length);
  for (const c of counts) expect(c === lo || c === lo + 1).toBe(true);
}

describe('quotas', () => {
  test('sum to exactly P; the extra partitions go to whoever holds most (sticky), ties by name', () => {
    const q = quotas(12, ['a', 'b', 'c', 'd', 'e'], new Map([['d', 3], ['b', 3], ['a', 3], ['c', 3]]));
    expect([...q.values()].reduce((x, y) => x + y, 0)).toBe(12);
    expect(Object.fromEntries(q)).toEqual({ a: 3, b: 3, c: 2, d: 2, e: 2 });
    expect(Object.fromEntries(quotas(3, ['x', 'y', 'z', 'w'], new Map()))).toEqual({ w: 1, x: 1, y: 1, z: 0 });
    expect(quotas(12, [], new Map()).size).toBe(0);
  });

  test('ceil(P / members) as a target would starve a newcomer; exact quotas do not', () => {
    const sim = new Sim(12, ['c1', 'c2', 'c3', 'c4'], prng(1));
    sim.settle();
    expect([...sim.counts().values()]).toEqual([3, 3, 3, 3]);
    // Nobody holds more than ceil(12 / 5) = 3, so a ceil target would move nothing to c5.
    expect(Math.max(...sim.counts().values())).toBeLessThanOrEqual(Math.ceil(12 / 5));
    sim.members = [...sim.members, 'c5'];
    sim.settle();
    expect(sim.counts().get('c5')).toBe(2);
    expectFair(sim);
  });

  test('rendezvous preferences are permutations and differ between consumers', () => {
    const a = preferenceOrder('billing-1', 12);
    const b = preferenceOrder('billing-2', 12);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(a).not.toEqual(b);
    expect(preferenceOrder('billing-1', 12)).toEqual(a);
  });
});

describe('planShares, simulated', () => {
  test('joins, graceful leaves and crashes: every partition owned, shares within one, no churn when nothing changes', () => {
    const rnd = prng(42);
    const sim = new Sim(12, ['w0/a'], rnd);
    expect(sim.settle()).toBeLessThanOrEqual(2);
    expect(sim.counts().get('w0/a')).toBe(12);
    const log: string[] = [];
    for (let step = 1; step <= 40; step++) {
      const r = rnd();
      if (r < 0.5 || sim.members.length === 1) sim.members = [...sim.members, `w${step}/x`];
      else if (r < 0.75) {
        const gone = sim.members[Math.floor(rnd() * sim.members.length)]!;
        sim.members = sim.members.filter((m) => m !== gone);
        for (const l of sim.leases) if (l.owner === gone) l.until = 0; // close(): release
      } else sim.crash(sim.members[Math.floor(rnd() * sim.members.length)]!);
      const movesBefore = sim.moves;
      const ticks = sim.settle();
      log.push(`${sim.members.length} members: ${ticks} ticks, ${sim.moves - movesBefore} released`);
      expect(ticks).toBeLessThanOrEqual(3);
      if (sim.members.length <= 12) expectFair(sim);
      else expect(Math.max(...sim.counts().values())).toBe(1); // more members than partitions: some idle
      // Stable: another tick changes nothing.
      expect(sim.tick()).toBe(false);
    }
    expect(log).toHaveLength(40);
  });

  test('a consumer with handlers running gives up its idle partitions first', () => {
    const leases: LeaseView[] = Array.from({ length: 4 }, (_, partition) => ({ partition, owner: 'a/1', token: 1, until: 2_000 }));
    const plan = planShares({ partitions: 4, members: ['a/1', 'b/1'], leases, me: 'a/1', now: 1_000, busy: new Set([0, 1, 2]) });
    expect(plan).toMatchObject({ quota: 2, held: [0, 1, 2, 3], wanted: 0, acquire: [] });
    expect(plan.release[0]).toBe(3);
    expect(plan.release).toHaveLength(2);
  });
});
