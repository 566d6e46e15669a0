import { sleep } from '@streamfan/testing';
import { between, expectClean, useFaultServer } from './harness';

/** Soak length: SOAK_MS (default 2 minutes), e.g. `SOAK_MS=900000 pnpm test:faults -t soak`. */
const SOAK_MS = Number(process.env.SOAK_MS ?? 120_000);
const env = useFaultServer(['--appendonly', 'yes', '--appendfsync', 'always']);

test(`12. soak: a random schedule of faults for ${Math.round(SOAK_MS / 1000)} s, then the checker`, async () => {
  const VISIBILITY = 2000;
  const s = env.scenario({
    worker: { concurrency: 8, visibilityTimeoutMs: VISIBILITY, maxAttempts: 5, backoffMs: 50, workMs: 5, workJitterMs: 20 },
    publisher: {
      batch: 5, intervalMs: 40,
      // A 2.5 s event-loop block stalls a whole worker process: keep them rare.
      shape: (seq) => (seq % 97 === 0 ? { poison: 'throw' } : seq % 89 === 0 ? { failAttempts: 2 } : seq % 1009 === 0 ? { blockMs: 2500 } : {}),
    },
  });
  const stopWorkers = s.supervise('w', 2);
  const stopCrashers = s.supervise('crash', 1, { crashAfterSideEffectEvery: 150 });
  await s.fleet.all[0]!.ready();
  const admin = s.server.client({ maxRetriesPerRequest: 1, commandTimeout: 5000 });
  const done = new Map<string, number>();
  const count = (name: string) => done.set(name, (done.get(name) ?? 0) + 1);
  const victim = () => { const a = s.fleet.alive; return a[between(0, a.length - 1)]; };
  const faults: Array<[string, () => Promise<unknown>]> = [
    ['worker SIGKILL', async () => victim()?.kill()],
    ['worker SIGTERM', async () => victim()?.stop()],
    ['worker SIGSTOP past the visibility timeout, then SIGCONT', async () => {
      const w = victim();
      w?.signal('SIGSTOP');
      await sleep(VISIBILITY + between(200, 1500));
      w?.signal('SIGCONT');
    }],
    ['CLIENT KILL TYPE normal', () => admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')],
    ['CLIENT KILL of the blocking readers', async () => {
      for (const line of String(await admin.client('LIST')).split('\n').filter((l) => /cmd=xreadgroup/.test(l))) {
        const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        if (id) await admin.client('KILL', 'ID', id).catch(() => 0);
      }
    }],
    ['redis-server SIGKILL and restart', async () => { await s.server.kill('SIGKILL'); await sleep(between(200, 1500)); await s.server.start(); }],
    ['redis-server SHUTDOWN and restart', async () => { await s.server.shutdown(); await sleep(between(200, 1500)); await s.server.start(); }],
  ];
  s.publisher.start();
  const deadline = Date.now() + SOAK_MS;
  while (Date.now() < deadline) {
    await sleep(between(800, 2500));
    const [name, act] = faults[between(0, faults.length - 1)]!;
    const started = Date.now();
    const outcome = await Promise.race([act().then(() => 'ok', (e: Error) => `failed: ${e.message}`), sleep(30_000).then(() => 'still running after 30 s')]);
    if (process.env.FAULTS_VERBOSE) process.stdout.write(`soak +${Math.round((started - (deadline - SOAK_MS)) / 1000)}s ${name}: ${outcome} (${Date.now() - started} ms)\n`);
    if (outcome !== 'ok') throw new Error(`soak fault "${name}" ${outcome}`);
    count(name);
  }
  await s.publisher.stop();
  stopWorkers();
  stopCrashers();
  for (const w of s.fleet.alive) w.signal('SIGCONT');
  // Keep consumers running (no more faults) while the checker waits for the end state.
  s.supervise('w', 2);
  const reports = await s.finish(`12. soak: random faults for ${Math.round(SOAK_MS / 1000)} s (redis AOF always)`, {
    timeoutMs: 120_000,
    notes: () => [
      `faults: ${[...done].map(([n, c]) => `${n} ×${c}`).join('; ')}`,
      `self-kills after a side effect: ${s.fleet.events('crashing').length}; reclaims: ${s.fleet.events('reclaimed').length}; refused stale acks: ${s.fleet.events('stale').length}`,
    ],
  });
  admin.disconnect();
  expectClean(reports);
  const poison = [...s.publisher.resolved.keys()].filter((q) => q % 97 === 0).length;
  for (const r of reports) expect(r.deadLetters).toBeGreaterThanOrEqual(poison);
}, SOAK_MS + 240_000);
