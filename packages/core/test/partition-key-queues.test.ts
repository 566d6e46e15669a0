import { InvalidOptionError } from '../src/errors';
import { KeyQueues, type KeyedEntry } from '../src/partitions/key-queues';

const e = (id: string, key?: string): KeyedEntry => (key === undefined ? { id } : { id, key });

describe('per-key queues of an ordered partition', () => {
  test('one event per key at a time, in stream order; other keys and keyless events run', () => {
    const q = new KeyQueues(100);
    expect(q.offer(e('1-0', 'a'))).toBe('run');
    expect(q.offer(e('2-0', 'a'))).toBe('held');
    expect(q.offer(e('3-0', 'b'))).toBe('run');
    expect(q.offer(e('4-0'))).toBe('run');
    expect(q.offer(e('5-0', 'a'))).toBe('held');
    expect([q.held, q.busyKeys, q.room]).toEqual([2, 2, 98]);
    expect(q.settled(e('1-0', 'a'))).toEqual(e('2-0', 'a'));
    expect(q.settled(e('2-0', 'a'))).toEqual(e('5-0', 'a'));
    expect(q.settled(e('5-0', 'a'))).toBeUndefined();
    expect(q.isBusy('a')).toBe(false);
    expect(q.offer(e('6-0', 'a'))).toBe('run');
    expect(q.settled(e('4-0'))).toBeUndefined();
    expect(q.held).toBe(0);
  });

  test('settling anything but the head of its key is an order bug and throws', () => {
    const q = new KeyQueues(10);
    q.offer(e('1-0', 'k'));
    q.offer(e('2-0', 'k'));
    expect(() => q.settled(e('2-0', 'k'))).toThrow(/head of key "k" is 1-0/);
    expect(() => q.settled(e('9-0', 'z'))).toThrow(/head of key "z" is nothing/);
    expect(() => q.offer(e('2-0', 'k'))).toThrow(/offered twice/);
  });

  test('room counts down to the holdback bound', () => {
    const q = new KeyQueues(3);
    q.offer(e('1-0', 'hot'));
    for (let i = 2; i <= 4; i++) q.offer(e(`${i}-0`, 'hot'));
    expect([q.held, q.room]).toEqual([3, 0]);
    expect(() => new KeyQueues(0)).toThrow(InvalidOptionError);
  });

  test("afterDeadLetter 'hold': the key's waiting entries and later ones are parked until released, in order", () => {
    const q = new KeyQueues(10);
    q.offer(e('1-0', 'k'));
    q.offer(e('2-0', 'k'));
    q.offer(e('3-0', 'k'));
    q.block('k', e('1-0', 'k'));
    expect(q.held).toBe(0); // parked entries do not count toward the holdback bound
    expect(q.parkedCount).toBe(2);
    expect(q.offer(e('4-0', 'k'))).toBe('park');
    expect(q.offer(e('5-0', 'j'))).toBe('run');
    expect(q.blockedKeys()).toEqual(['k']);
    expect(q.release('k')).toEqual(e('2-0', 'k'));
    expect(q.held).toBe(2);
    expect(q.offer(e('6-0', 'k'))).toBe('held');
    expect(q.settled(e('2-0', 'k'))).toEqual(e('3-0', 'k'));
    expect(() => q.block('j', e('9-0', 'j'))).toThrow(/not the head/);
  });

  test("afterDeadLetter 'hold': a replay of the blocking dead letter runs first, then the parked entries", () => {
    const q = new KeyQueues(10);
    q.offer(e('s:1', 'k'));
    q.offer(e('s:2', 'k'));
    q.blockHead('k', e('s:1', 'k')); // an earlier owner's dead letter blocks k: the head waits too
    expect(q.parkedCount).toBe(2);
    expect(q.promote('k', 'r:9')).toBeUndefined(); // the replay's copy is not read yet
    expect(q.offer(e('r:9', 'k'))).toBe('park');
    expect(q.promote('k', 'r:9')).toEqual(e('r:9', 'k'));
    expect(q.settled(e('r:9', 'k'))).toEqual(e('s:1', 'k'));
    expect(q.settled(e('s:1', 'k'))).toEqual(e('s:2', 'k'));
  });

  test('random offers and settles keep every key in order, never two of a key at once', () => {
    let seed = 9;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const q = new KeyQueues(10_000);
    const running = new Map<string, KeyedEntry>();
    const started: Record<string, number[]> = {};
    let n = 0;
    for (let step = 0; step < 5000; step++) {
      if (rnd() < 0.55) {
        n++;
        const entry = e(`${n}-0`, `k${Math.floor(rnd() * 8)}`);
        if (q.offer(entry) === 'run') { expect(running.has(entry.key!)).toBe(false); running.set(entry.key!, entry); (started[entry.key!] ??= []).push(n); }
      } else if (running.size > 0) {
        const keys = [...running.keys()];
        const key = keys[Math.floor(rnd() * keys.length)]!;
        const next = q.settled(running.get(key)!);
        running.delete(key);
        if (next) { running.set(key, next); (started[key] ??= []).push(Number(next.id.split('-')[0])); }
      }
    }
    for (const seqs of Object.values(started)) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });
});
