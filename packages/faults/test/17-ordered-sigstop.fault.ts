import { partitionKeys } from '@streamfan/core/internal';
import { sleep, startRedis, type RedisServer } from '@streamfan/testing';
import { checkOrder, handlings, withOrderedFleet } from '../src/ordered-fleet';

let server: RedisServer;
beforeAll(async () => { server = await startRedis(); });
afterAll(async () => { await server?.stop(); });

/**
 * Fault 17 (issue 12, docs/partitions.md §5.2, §6.4): the zombie. An ordered group, 2
 * partitions, `leaseMs` 1000, two worker processes; handlers take 100–300 ms so the paused one
 * is mid-handler. Worker A is SIGSTOPped for 3 × leaseMs while events keep coming: B takes its
 * partitions over (adopting what A held), then A gets SIGCONT. A's handlers finish, but
 * everything it tries with its old token is fenced (it may then take a share again, with a new
 * token). Checked: every event succeeded; per key, the successful handlings of everyone but the
 * zombie's resumed handlers follow publish order and never overlap (a resumed zombie's side
 * effects are the one overlap fencing cannot undo: they are counted, and its settles refused);
 * no event's final status is a zombie's attempt.
 */
test('17. ordered group, a consumer SIGSTOPped past its lease and resumed: its settles are fenced, key order kept', async () => {
  const P = 2;
  const LEASE = 1000;
  await withOrderedFleet(17, { url: server.url }, {
    partitions: P, group: 'g', ordering: 'key',
    leaseMs: LEASE, concurrency: 4, maxLatencyMs: 300, failRate: 0, maxAttempts: 6, backoffMs: 20, blockMs: 200,
  }, async ({ sf, topic, prefix, fleet }) => {
    const a = fleet.spawn('a');
    await a.ready();
    const b = fleet.spawn('b');
    await b.ready();
    await sleep(2 * LEASE); // shares settle: each holds one partition
    const seqOf = new Map<string, number>();
    const ids: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        const batch = Array.from({ length: 4 }, (_, i) => {
          const key = `k${(ids.length + i) % 12}`;
          const seq = seqOf.get(key) ?? 0;
          seqOf.set(key, seq + 1);
          return { key, seq };
        });
        ids.push(...await sf.publishMany(topic, batch, { keys: batch.map((x) => x.key) }));
        await sleep(60);
      }
    })();
    await sleep(1500);
    const stoppedAt = Date.now();
    a.signal('SIGSTOP');
    await sleep(3 * LEASE);
    // Read the clock before SIGCONT: A may run (and end its paused handlers) before this process
    // is scheduled again, so an instant read after the signal can be later than those ends.
    const resumedAt = Date.now();
    a.signal('SIGCONT');
    await sleep(2000);
    publishing = false;
    await publisher;

    const deadline = Date.now() + 60_000;
    const open = new Set(ids);
    const statuses = new Map<string, { state?: string; consumer?: string; updatedAt?: Date }>();
    while (open.size > 0 && Date.now() < deadline) {
      const batch = [...open];
      const got = await Promise.all(batch.map((id) => sf.status(topic, id)));
      got.forEach((s, i) => {
        const g = s.groups.g;
        if (g?.state === 'succeeded' || g?.state === 'dead') { statuses.set(batch[i]!, g); open.delete(batch[i]!); }
      });
      if (open.size > 0) await sleep(300);
    }
    expect({ notFinal: open.size }).toEqual({ notFinal: 0 });
    let pending = 0;
    for (let i = 0; i < P; i++) pending += Number(((await sf.redis.xpending(partitionKeys(prefix, topic.name, i).stream, 'g')) as [number])[0]);
    for (const w of fleet.alive) await w.stop();

    const all = handlings(fleet.records(), () => undefined);
    // The zombie's handlings that were running when it was paused and ended after it resumed.
    const zombie = all.filter((h) => h.consumer === a.consumer && h.start < resumedAt && h.end >= resumedAt);
    const report = checkOrder(all.filter((h) => !zombie.includes(h)), seqOf);
    // A zombie's settle must have been refused: the final status of each event it was running is
    // not its attempt (a settle that got through would leave A's name with the zombie's attempt).
    const statusOf = new Map([...statuses].map(([id, s]) => [id, s as { consumer?: string; attempts?: number }]));
    const zombieWon = zombie.filter((h) => { const s = statusOf.get(h.id); return s?.consumer === a.consumer && s.attempts === h.attempt; }).map((h) => `${h.id} attempt ${h.attempt}`);
    const rerun = zombie.filter((h) => all.some((x) => x.id === h.id && x !== h && x.ok && x.start >= stoppedAt)).length;
    console.log(`fault 17: ${ids.length} events, paused ${resumedAt - stoppedAt} ms (leaseMs ${LEASE}), zombie handlings resumed after the pause ${zombie.length} (run again by the new owner: ${rerun}), ` +
      `handlings ${report.handlings + zombie.length}, zombie settles that got through ${zombieWon.length}, out of order ${report.outOfOrder.length}, overlaps ${report.overlaps.length}`);
    expect({ zombieWon, outOfOrder: report.outOfOrder.slice(0, 5), overlaps: report.overlaps.slice(0, 5), neverHandled: report.neverHandled.slice(0, 5), pending })
      .toEqual({ zombieWon: [], outOfOrder: [], overlaps: [], neverHandled: [], pending: 0 });
    expect([...statuses.values()].every((s) => s.state === 'succeeded')).toBe(true);
    expect(zombie.length).toBeGreaterThan(0); // the pause landed mid-handler, else the fault did not bite
  });
}, 240_000);
