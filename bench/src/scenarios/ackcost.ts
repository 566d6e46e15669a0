import { commandDelta, commandStats, flush, redisCpuMicros, usedMemory, type BenchContext } from '../context';
import { LazyAbort, buildAck, loadScripts, runScript, topicKeys } from '../lib';
import { sleep } from '../clock';

/**
 * Where Redis' time per delivery goes on the ack path, without consumers or publishers in the
 * way: N entries are XADDed (ids spaced as a steady publisher at `rate` events/s would leave
 * them) and read into one consumer's pending list in each of 3 groups, then acknowledged in
 * batches of 200 by one variant, and Redis' own CPU (INFO used_cpu_user + used_cpu_sys) and
 * INFO commandstats are read around that, as is used_memory around the status it writes.
 *
 * Variants:
 * - floor: the hand-written pipeline (XACK + per entry HSET of one field + EXPIRE);
 * - ackBatch: streamfan's ack script as the consumer runs it (status on), and with status off;
 * - bucketed: a prototype of the proposed compact status (docs/perf-notes.md): per batch one
 *   XPENDING (ownership), one XACK, and per time bucket of the event ids one HSET of
 *   `<id in bucket>` → `<attempts>|<finished after publish, ms>` with one EXPIRE … NX; the bucket
 *   keys are computed by the caller and passed in KEYS, as every script must.
 */
export interface AckCostResult {
  variant: string;
  entries: number;
  groups: number;
  /** Events/s the entry ids were spaced for (bucket occupancy depends on it). */
  rate: number;
  /** Redis CPU µs per delivery (INFO CPU delta ÷ deliveries). */
  cpuPerDelivery: number;
  /** Bytes of status per event (used_memory freed by deleting the status keys ÷ events). */
  statusBytesPerEvent: number;
  /** Status keys written. */
  statusKeys: number;
  commands: Array<{ command: string; calls: number; usec: number }>;
}

const BATCH = 200;
const TTL = 86_400;

/**
 * Prototypes of the compact status write (bench-local, not streamfan scripts). Both check
 * ownership with one XPENDING per batch and XACK once, like ackBatch, and record per delivery
 * only attempts and when (ms after publish), in a key per group per time bucket of the event
 * ids, whose TTL is set once (when the key has none). KEYS: stream, then one key per bucket;
 * ARGV: group, consumer, ttl, bucket width ms, bucket count, ids per bucket..., ids.
 * - HASH: HSET <id in bucket> <attempts>|<ms> (a listpack while ≤ 128 fields);
 * - APPEND: one string of "<id in bucket>:<attempts>|<ms>;" records per bucket.
 */
const COMPACT = (mode: 'HASH' | 'APPEND') => `
local stream = KEYS[1]
local group, consumer, ttl, width, nb = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local first = 6 + nb
local minId, maxId = ARGV[first], ARGV[#ARGV]
local owned = {}
for _, r in ipairs(redis.call('XPENDING', stream, group, minId, maxId, #ARGV - first + 1001, consumer)) do owned[r[1]] = r[4] end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local acked = {}
local i = first
for b = 1, nb do
  local n = tonumber(ARGV[5 + b])
  local out = {}
  for j = i, i + n - 1 do
    local id = ARGV[j]
    local d = owned[id]
    if d then
      acked[#acked + 1] = id
      local ms, seq = string.match(id, '^(%d+)-(%d+)$')
      local rel = (tonumber(ms) % width) .. '-' .. seq
      ${mode === 'HASH' ? "out[#out + 1] = rel; out[#out + 1] = d .. '|' .. (now - tonumber(ms))" : "out[#out + 1] = rel .. ':' .. d .. '|' .. (now - tonumber(ms)) .. ';'"}
    end
  end
  i = i + n
  if #out > 0 then
    ${mode === 'HASH' ? "redis.call('HSET', KEYS[1 + b], unpack(out))" : "redis.call('APPEND', KEYS[1 + b], table.concat(out))"}
    if redis.call('TTL', KEYS[1 + b]) < 0 then redis.call('EXPIRE', KEYS[1 + b], ttl) end
  end
end
if #acked > 0 then redis.call('XACK', stream, group, unpack(acked)) end
return #acked
`;

function compact(mode: 'HASH' | 'APPEND', width: number): Variant {
  const script = COMPACT(mode);
  return async (ctx, stream, group, ids, _statusKey, bucketKey) => {
    const buckets = new Map<number, string[]>();
    for (const id of ids) {
      const b = Math.floor(Number(id.slice(0, id.indexOf('-'))) / width);
      const list = buckets.get(b) ?? [];
      list.push(id);
      buckets.set(b, list);
    }
    const bs = [...buckets.keys()].sort((a, b) => a - b);
    await ctx.redis.eval(script, 1 + bs.length, stream, ...bs.map((b) => bucketKey(b, group)), group, 'c1', TTL, width, bs.length,
      ...bs.map((b) => buckets.get(b)!.length), ...bs.flatMap((b) => buckets.get(b)!));
  };
}

/**
 * The proposal's next steps (docs/perf-notes.md, "Reaching ≥ 1.3× the floor"), happy path only:
 * records built in TypeScript (`<ms in bucket>[-<seq>];`, first attempts), one batch-level time
 * marker `@<server ms>;` prepended by the script, ids as the only per-entry arguments, the
 * batch's lowest and highest id passed in. Ownership: one XPENDING over the range (PREBUILT), or
 * one HGET of the consumer's fence (FENCED: the reclaimer would bump it when it takes entries
 * from this consumer). A batch not wholly owned is refused here; the real script would fall
 * back to the per-entry path.
 */
const PREBUILT = (fenced: boolean) => `
local stream = KEYS[1]
local group, consumer, ttl, nb, minId, maxId, fence = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local first = 8 + nb
local n = #ARGV - first + 1
${fenced ? `if (redis.call('HGET', KEYS[2 + nb], consumer) or '0') ~= fence then return redis.error_reply('fence moved') end` : `local owned = {}
for _, r in ipairs(redis.call('XPENDING', stream, group, minId, maxId, n + 1000, consumer)) do owned[r[1]] = true end
for i = first, #ARGV do if not owned[ARGV[i]] then return redis.error_reply('not owned: ' .. ARGV[i]) end end`}
local t = redis.call('TIME')
local marker = '@' .. t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)) .. ';'
redis.call('XACK', stream, group, unpack(ARGV, first, #ARGV))
for b = 1, nb do
  redis.call('APPEND', KEYS[1 + b], marker .. ARGV[7 + b])
  if redis.call('TTL', KEYS[1 + b]) < 0 then redis.call('EXPIRE', KEYS[1 + b], ttl) end
end
return n
`;

function prebuilt(fenced: boolean): Variant {
  const script = PREBUILT(fenced);
  return async (ctx, stream, group, ids, _statusKey, bucketKey) => {
    const buckets = new Map<number, string[]>();
    for (const id of ids) {
      const dash = id.indexOf('-');
      const ms = Number(id.slice(0, dash));
      const seq = id.slice(dash + 1);
      const b = Math.floor(ms / 1000);
      const list = buckets.get(b) ?? [];
      list.push(`${(ms % 1000).toString(36)}${seq === '0' ? '' : `-${seq}`};`);
      buckets.set(b, list);
    }
    const bs = [...buckets.keys()].sort((a, b) => a - b);
    const fenceKey = `${stream}-fence:${group}`;
    await ctx.redis.eval(script, 2 + bs.length, stream, ...bs.map((b) => bucketKey(b, group)), fenceKey, group, 'c1', TTL, bs.length,
      ids[0]!, ids[ids.length - 1]!, '0', ...bs.map((b) => buckets.get(b)!.join('')), ...ids);
  };
}

async function prepare(ctx: BenchContext, stream: string, groups: string[], n: number, rate: number): Promise<Map<string, string[]>> {
  await flush(ctx);
  for (const g of groups) await ctx.redis.xgroup('CREATE', stream, g, '0', 'MKSTREAM');
  // Ids as a steady publisher at `rate` leaves them: ms apart (several per ms above 1000/s).
  const start = Date.now() - Math.ceil((n / rate) * 1000) - 1000;
  const payload = JSON.stringify({ t: 0, i: 0, p: 'x'.repeat(70) });
  for (let i = 0; i < n; i += 1000) {
    const p = ctx.redis.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) p.xadd(stream, `${start + Math.floor((j * 1000) / rate)}-${j}`, 'payload', payload, 'headers', '');
    await p.exec();
  }
  const ids = new Map<string, string[]>();
  for (const g of groups) {
    const list: string[] = [];
    for (;;) {
      const reply = (await ctx.redis.xreadgroup('GROUP', g, 'c1', 'COUNT', 10_000, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]> | null;
      const got = reply?.[0]?.[1] ?? [];
      if (got.length === 0) break;
      for (const [id] of got) list.push(id);
    }
    ids.set(g, list);
  }
  return ids;
}

/**
 * streamfan's ackBatch as the consumer calls it (protocol 2): the AckBatcher's own argument
 * builder, first deliveries, plain successes (no result). Keys under the bench's topic `t`.
 */
function streamfanAck(track: boolean): Variant {
  const keys = topicKeys('bench-ack', 't');
  return async (ctx, stream, group, ids) => {
    const target = { keys, group, consumer: 'c1', statusTtlSeconds: TTL, trackStatus: track, publishMode: () => 'P' as const };
    const plain = ids.map((id) => ({ f: { entryId: id, eventId: id, stream, base: 0, attempt: 1, startedAt: 0, leasedAt: 0, abort: new LazyAbort(), leaseLost: false }, encoded: '', result: undefined }));
    const { keys: k, args } = buildAck(target, stream, true, plain, []);
    const reply = await runScript<number[]>(ctx.redis, 'ackBatch', k, args);
    if (reply[0] !== ids.length) throw new Error(`ackBatch acknowledged ${reply[0]} of ${ids.length}`);
  };
}

type Variant = (ctx: BenchContext, stream: string, group: string, ids: string[], statusKey: (id: string) => string, bucketKey: (b: number, group: string) => string) => Promise<void>;

const variants: Record<string, Variant> = {
  'floor: pipeline XACK + HSET 1 field + EXPIRE': async (ctx, stream, group, ids, statusKey) => {
    const p = ctx.redis.pipeline();
    p.xack(stream, group, ...ids);
    for (const id of ids) {
      p.hset(statusKey(id), `${group}:state`, 'succeeded');
      p.expire(statusKey(id), TTL);
    }
    await p.exec();
  },
  'streamfan ackBatch, status on (protocol 2: success buckets)': streamfanAck(true),
  'streamfan ackBatch, status off': streamfanAck(false),
  'prototype: hash per group per 100 ms of ids, 1 field per delivery': compact('HASH', 100),
  'prototype: string per group per 1 s of ids, APPEND 1 record per delivery': compact('APPEND', 1000),
  'proposal: APPEND, records built in TypeScript, ids only, XPENDING check': prebuilt(false),
  'proposal: APPEND, records built in TypeScript, ids only, fence check': prebuilt(true),
};

/** Every variant on the same entries; `rate` spaces the ids (bucket occupancy). */
export async function ackCostScenario(ctx: BenchContext): Promise<AckCostResult[]> {
  const n = ctx.config.ackCostEntries;
  const groups = ['svc0', 'svc1', 'svc2'];
  const out: AckCostResult[] = [];
  await loadScripts(ctx.redis, ['ackBatch']);
  for (const rate of ctx.config.ackCostRates) {
    for (const [variant, run] of Object.entries(variants)) {
      ctx.progress.begin(`ack cost: ${variant}, ${n.toLocaleString('en-US')} entries × ${groups.length} groups, ids spaced for ${rate.toLocaleString('en-US')} events/s`);
      const stream = 'bench-ack:{t}:stream';
      const ids = await prepare(ctx, stream, groups, n, rate);
      await loadScripts(ctx.redis, ['ackBatch']);
      const statusKey = (id: string) => `bench-ack:{t}:status:${id}`;
      const bucketKey = (b: number, group: string) => `bench-ack:{t}:st:${group}:${b}`;
      await sleep(100);
      const stats0 = await commandStats(ctx.redis);
      const cpu0 = await redisCpuMicros(ctx.redis);
      for (const g of groups) {
        const list = ids.get(g)!;
        for (let i = 0; i < list.length; i += BATCH) await run(ctx, stream, g, list.slice(i, i + BATCH), statusKey, bucketKey);
        ctx.progress.update(`${g} acknowledged`);
      }
      const cpu1 = await redisCpuMicros(ctx.redis);
      const stats1 = await commandStats(ctx.redis);
      const deliveries = n * groups.length;
      const pending = await ctx.redis.xpending(stream, 'svc0') as [number];
      if (Number(pending[0]) !== 0) throw new Error(`ack cost ${variant}: ${pending[0]} entries still pending`);
      const keys: string[] = [];
      let cursor = '0';
      do {
        // Status hashes (status:*), prototype keys (st:*) and success buckets (ok:*): all but the stream.
        const [next, batch] = await ctx.redis.scan(cursor, 'MATCH', 'bench-ack:{t}:*', 'COUNT', 1000);
        cursor = next;
        keys.push(...batch.filter((k) => k !== stream));
      } while (cursor !== '0');
      const used1 = await usedMemory(ctx.redis);
      for (let i = 0; i < keys.length; i += 1000) await ctx.redis.unlink(...keys.slice(i, i + 1000));
      await sleep(300);
      const used2 = await usedMemory(ctx.redis);
      out.push({
        variant, entries: n, groups: groups.length, rate,
        cpuPerDelivery: (cpu1 - cpu0) / deliveries,
        statusBytesPerEvent: keys.length ? (used1 - used2) / n : 0,
        statusKeys: keys.length,
        commands: commandDelta(stats0, stats1, deliveries).filter((c) => c.command !== 'scan' && c.command !== 'unlink'),
      });
    }
  }
  return out;
}
