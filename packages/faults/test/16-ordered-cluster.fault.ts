import { startCluster, type RedisCluster } from '@streamfan/testing';
import { runOrderedSigkill } from '../src/ordered-sigkill';

let cluster: RedisCluster;
beforeAll(async () => { cluster = await startCluster(3); }, 60_000);
afterAll(async () => { await cluster?.stop(); });

/**
 * Fault 16 (issue 12): fault 14 on a local Redis Cluster of 3 masters, with 12 partitions (their
 * streams on every master): an ordered group, 40 keys, 1,200 events, handlers 0–20 ms with 10 %
 * transient failures, 3–4 worker processes connected to the cluster, one SIGKILLed and one
 * started every 2 s. Per key: successes in publish order, no overlap; every event succeeded or
 * dead; nothing pending, no retry waiting (src/ordered-sigkill.ts, shared with fault 14).
 */
test('16. ordered group on a 3-master cluster, 12 partitions, SIGKILL and restart of consumer processes: per key in order, never overlapping, every event succeeded or dead', async () => {
  await runOrderedSigkill({ fault: 16, label: '(3-master cluster)', redis: { cluster: cluster.startupNodes }, partitions: 12, keys: 40, events: 1200 });
}, 240_000);
