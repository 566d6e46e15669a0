import { startRedis, type RedisServer } from '@streamfan/testing';
import { runOrderedSigkill } from '../src/ordered-sigkill';

let server: RedisServer;
beforeAll(async () => { server = await startRedis(); });
afterAll(async () => { await server?.stop(); });

/**
 * Fault 14 (issue 12, docs/partitions.md §10): an ordered group (`ordering: 'key'`) on a topic
 * of 4 partitions, 50 keys, 2,000 events published while 3–4 worker processes run; handlers
 * sleep 0–20 ms and throw in 10 % of attempts; every 2 s one process is SIGKILLed and a new one
 * started. Then, from the handlers' own logs (one clock: this machine's): per key, successful
 * handlings follow publish order, no two handlings of one key overlap in time (a killed one
 * ends when its process was killed), and every event ends succeeded or dead in its status
 * (the run and its checks: src/ordered-sigkill.ts, shared with fault 16).
 * F14_ORDERING=none runs the same with an unordered group: the check then fails (out of order,
 * overlaps), which shows it can.
 */
test('14. ordered group, SIGKILL and restart of consumer processes: per key in order, never overlapping, every event succeeded or dead', async () => {
  await runOrderedSigkill({
    fault: 14, redis: { url: server.url }, partitions: 4, keys: 50, events: 2000,
    ordering: (process.env.F14_ORDERING ?? 'key') as 'key' | 'none',
  });
}, 240_000);
