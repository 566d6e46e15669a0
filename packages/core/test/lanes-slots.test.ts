/**
 * The shared slot pool of a laned consumer (lanes/slots.ts), without Redis: the order in which
 * freed slots are granted to waiting lanes, the starvation guard's period and rotation, strict
 * priority, FIFO within a lane, and aborts while waiting.
 */
import { LaneSlots } from '../src/internal';

/** Queue `n` waiters per lane (index 0 highest) on a pool whose only slot is taken, then free it `grants` times. */
async function order(share: number, perLane: number[], grants: number): Promise<number[]> {
  const slots = new LaneSlots(1, perLane.length, share);
  const signal = new AbortController().signal;
  await slots.acquire(0, signal); // the one slot is busy
  const got: number[] = [];
  const waiting: Array<Promise<void>> = [];
  perLane.forEach((n, lane) => {
    for (let i = 0; i < n; i++) waiting.push(slots.acquire(lane, signal).then(() => { got.push(lane); }));
  });
  for (let i = 0; i < grants; i++) {
    slots.release(got.length === 0 ? 0 : got[got.length - 1]!);
    await new Promise((r) => setImmediate(r));
  }
  return got;
}

describe('LaneSlots', () => {
  test('a freed slot goes to the highest waiting lane; 1 grant in round(1/share) goes to a waiting lower lane, in turn', async () => {
    expect(await order(0.25, [20, 20, 20], 12)).toEqual([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1]);
    expect(await order(0.1, [30, 30], 20)).toEqual([...Array(9).fill(0), 1, ...Array(9).fill(0), 1]);
  });

  test('share 0 is strict priority; a lane runs once every higher lane is empty; FIFO within a lane', async () => {
    expect(await order(0, [3, 2, 2], 7)).toEqual([0, 0, 0, 1, 1, 2, 2]);
    const slots = new LaneSlots(1, 2, 0);
    const signal = new AbortController().signal;
    await slots.acquire(1, signal);
    const seen: string[] = [];
    const a = slots.acquire(1, signal).then(() => seen.push('a'));
    const b = slots.acquire(1, signal).then(() => seen.push('b'));
    slots.release(1); await a;
    slots.release(1); await b;
    expect(seen).toEqual(['a', 'b']);
    expect(slots.snapshot()).toEqual([{ waiting: 0, running: 0, granted: 0 }, { waiting: 0, running: 1, granted: 3 }]);
  });

  test('an entry whose signal aborts while it waits leaves the queue (its lease was lost, or shutdown)', async () => {
    const slots = new LaneSlots(1, 2, 0.1);
    await slots.acquire(0, new AbortController().signal);
    const ac = new AbortController();
    const waiting = slots.acquire(1, ac.signal);
    expect(slots.snapshot()[1]!.waiting).toBe(1);
    ac.abort(new Error('lease lost'));
    await expect(waiting).rejects.toThrow('lease lost');
    expect(slots.snapshot()[1]!.waiting).toBe(0);
    slots.release(0);
    expect(slots.snapshot()).toEqual([{ waiting: 0, running: 0, granted: 1 }, { waiting: 0, running: 0, granted: 0 }]);
  });

  test('a lane expected to have more (its last read came back full) has freed slots held for it: not granted to a lower lane until its entries come, a read comes back short, or the wait lapses; the guard still gives lower lanes their share', async () => {
    const signal = new AbortController().signal;
    const strict = new LaneSlots(2, 2, 0, 60_000);
    strict.expectMore(0, true);
    const got: string[] = [];
    const low = [strict.acquire(1, signal).then(() => got.push('low1')), strict.acquire(1, signal).then(() => got.push('low2'))];
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([]); // both slots free, held for the high lane's entries
    await strict.acquire(0, signal);
    expect(strict.snapshot()[0]!.running).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([]);
    strict.expectMore(0, false); // its next read came back short: the lane is drained
    await low[0];
    expect(got).toEqual(['low1']);
    strict.release(0);
    await low[1];
    expect(got).toEqual(['low1', 'low2']);

    // The wait lapses.
    const lapsing = new LaneSlots(1, 2, 0, 30);
    lapsing.expectMore(0, true);
    const t0 = Date.now();
    await lapsing.acquire(1, signal);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(lapsing.expects(0)).toBe(false);

    // When the time is up while the lane's group still has undelivered entries (a slow read, not
    // one blocked on an empty stream), the hold is renewed; asked again each time.
    let asked = 0;
    const renewing = new LaneSlots(1, 2, 0, 20, async () => ++asked <= 2);
    renewing.expectMore(0, true);
    await renewing.acquire(1, signal);
    expect(asked).toBe(3); // renewed twice, ended at the third answer

    // With the guard (1 in 2 here), the guard's grant goes to the waiting lower lane even while the higher lane is expected.
    const guarded = new LaneSlots(1, 2, 0.5, 60_000);
    guarded.expectMore(0, true);
    await guarded.acquire(0, signal);
    const order: string[] = [];
    const lowGuarded = guarded.acquire(1, signal).then(() => order.push('low'));
    const high = guarded.acquire(0, signal).then(() => order.push('high'));
    guarded.release(0); // high's queued entry: granted while low waits
    await high;
    guarded.release(0); // high expected, nothing queued: the guard's grant goes to low
    await lowGuarded;
    expect(order).toEqual(['high', 'low']);
    expect(guarded.snapshot().map((x) => x.running)).toEqual([0, 1]);
    guarded.close();
    expect(guarded.expects(0)).toBe(false);
  });
});
