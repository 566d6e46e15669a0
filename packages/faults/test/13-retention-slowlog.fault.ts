import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { topicKeys } from '@streamfan/core/internal';
import { luaSources } from '../../core/src/scripts/lua.generated';
import { useFaultServer } from './harness';

const env = useFaultServer();

/** Entries in the stream: at least a million, as the issue asks. */
const ENTRIES = 1_000_000;

/** Fill a stream fast: one script call appends 50,000 small entries (setup only, not the library). */
async function fill(redis: Redis, stream: string, n: number): Promise<void> {
  const script = "for i = 1, tonumber(ARGV[1]) do redis.call('XADD', KEYS[1], '*', 'p', 'x') end return 1";
  for (let done = 0; done < n; done += 50_000) await redis.eval(script, 1, stream, Math.min(50_000, n - done));
}

const scriptNames = new Map(Object.entries(luaSources).map(([name, s]) => [createHash('sha1').update(s.source).digest('hex'), name]));

interface Slowest { micros: number; command: string; calls: number; byCommand: string }

/**
 * The longest single command in SLOWLOG, and a summary per command of those logged. The log
 * keeps commands over 0.2 ms, not all of them: with slowlog-log-slower-than 0, Redis 7 also logs
 * every command a script runs, and that logging itself makes the measured scripts several times slower.
 */
async function slowest(redis: Redis): Promise<Slowest> {
  const rows = (await redis.call('SLOWLOG', 'GET', '-1')) as Array<[number, number, number, string[]]>;
  const lib = rows.filter((r) => !/^slowlog|^config/i.test(String(r[3][0])));
  const name = (args: string[]) => (String(args[0]).toLowerCase() === 'evalsha' ? `evalsha ${scriptNames.get(String(args[1])) ?? String(args[1]).slice(0, 8)}` : String(args[0]).toLowerCase());
  const per = new Map<string, number[]>();
  let top = { micros: 0, command: '' };
  for (const [, , micros, args] of lib) {
    const n = name(args);
    per.set(n, [...(per.get(n) ?? []), Number(micros)]);
    if (Number(micros) > top.micros) top = { micros: Number(micros), command: n };
  }
  const byCommand = [...per].map(([n, us]) => {
    us.sort((a, b) => a - b);
    return `${n} ×${us.length} median ${(us[us.length >> 1]! / 1000).toFixed(2)} ms, p99 ${(us[Math.floor(us.length * 0.99)]! / 1000).toFixed(2)} ms, max ${(us[us.length - 1]! / 1000).toFixed(2)} ms`;
  }).join('; ');
  return { ...top, calls: lib.length, byCommand };
}

test(`13. a dry run and a capped trim over ${ENTRIES.toLocaleString('en')} entries: no single command blocks Redis for long (SLOWLOG)`, async () => {
  const s = env.scenario({ topic: 'big', groups: ['done', 'behind'] });
  const { sf, redis } = s;
  const keys = topicKeys(sf.prefix, s.topic.name);
  await fill(redis, keys.stream, ENTRIES);
  const ids = await redis.xrange(keys.stream, '-', '+', 'COUNT', 1);
  const [last] = await redis.xrevrange(keys.stream, '+', '-', 'COUNT', 1);
  // 'done' has read and acknowledged everything; 'behind' is 40% behind and holds 100 entries pending.
  await redis.xgroup('CREATE', keys.stream, 'done', last![0]);
  const [mid] = await redis.xrange(keys.stream, '-', '+', 'COUNT', 1).then(async () =>
    (await redis.xrevrange(keys.stream, '+', '-', 'COUNT', 400_001)).slice(-1));
  await redis.xgroup('CREATE', keys.stream, 'behind', mid![0]);
  await redis.xreadgroup('GROUP', 'behind', 'ghost', 'COUNT', 100, 'STREAMS', keys.stream, '>');
  expect(ids).toHaveLength(1);
  expect(await redis.xlen(keys.stream)).toBe(ENTRIES);

  const [, logMax] = (await redis.config('GET', 'slowlog-max-len')) as [string, string];
  const [, logSlower] = (await redis.config('GET', 'slowlog-log-slower-than')) as [string, string];
  await redis.config('SET', 'slowlog-max-len', '100000');
  await redis.config('SET', 'slowlog-log-slower-than', '200');
  try {
    await sf.trim(s.topic, { dryRun: true, maxLen: 10 }); // loads the scripts: not measured
    await redis.call('SLOWLOG', 'RESET');
    let t = Date.now();
    const dry = await sf.trim(s.topic, { dryRun: true, maxLen: 100_000 });
    const dryMs = Date.now() - t;
    const dryTop = await slowest(redis);
    expect(dry).toMatchObject({ removed: 600_000, lostToCap: 300_000, length: 100_000, groups: 2 });
    expect(await redis.xlen(keys.stream)).toBe(ENTRIES);

    await redis.call('SLOWLOG', 'RESET');
    t = Date.now();
    const real = await sf.trim(s.topic, { maxLen: 100_000 });
    const realMs = Date.now() - t;
    const realTop = await slowest(redis);
    expect(real).toMatchObject({ lostToCap: 300_000, lostByGroup: { behind: 300_000 }, length: 100_000 });
    expect(real.removed).toBe(600_000);
    expect(await redis.xlen(keys.stream)).toBe(100_000);
    const sample = real.lostIds[500]!;
    expect((await sf.status(s.topic, sample)).groups.behind?.state).toBe('lost');

    process.stdout.write([
      `13. retention over ${ENTRIES.toLocaleString('en')} entries (2 groups, one 400,000 behind with 100 pending), longest single command (SLOWLOG):`,
      `  dry run (maxLen 100,000; counts 1000 per call): ${(dryTop.micros / 1000).toFixed(2)} ms (${dryTop.command}), ${dryTop.calls} commands over 0.2 ms, ${dryMs} ms in all`,
      `    ${dryTop.byCommand}`,
      `  capped trim (maxLen 100,000: 600,000 safe + 300,000 lost, each recorded, 100 per call): ${(realTop.micros / 1000).toFixed(2)} ms (${realTop.command}), ${realTop.calls} commands over 0.2 ms, ${realMs} ms in all`,
      `    ${realTop.byCommand}`,
      '',
    ].join('\n'));
    // The goal is under 10 ms (see the numbers printed above). On a loaded 2-core box one command
    // can be descheduled for tens of ms, so assert only a bound that counting or trimming in one
    // script call (about 1.5 s per million entries before) could never meet.
    expect(dryTop.micros).toBeLessThan(250_000);
    expect(realTop.micros).toBeLessThan(250_000);
  } finally {
    await redis.config('SET', 'slowlog-log-slower-than', logSlower);
    await redis.config('SET', 'slowlog-max-len', logMax);
  }
});
