import type Redis from 'ioredis';
import { monotonicMs } from '../timing';

/** Reads the stream's last generated id and the server time together (EVAL: one step, in order). */
const CAPTURE = `
local t = redis.call('TIME')
local ok, info = pcall(redis.call, 'XINFO', 'STREAM', KEYS[1])
local last = ''
if ok then
  for i = 1, #info, 2 do if info[i] == 'last-generated-id' then last = info[i + 1] end end
end
return { t[1], t[2], last }
`;

/** Extra margin of the time bound, in ms (see {@link captureStreamEnd}). */
const SLACK_MS = 50;

/**
 * Where a new group made with `startFrom: 'latest'` starts: before every event published after
 * `subscribe()` was called. The read is sent at once on the client's command connection, so it
 * runs before any publish the caller makes later on the same client: the group starts at the
 * stream's last generated id. When that connection is not up yet (a process that just started),
 * the read waits for it, and a publish from another process may run first; then the position is
 * also bounded by time: the server's clock when the read ran, minus the time that passed on this
 * process' monotonic clock since `subscribe()` was called, is no later than the moment of the
 * call, and every entry published since has an id from that millisecond on. The group starts at
 * the earlier of the two, less a 50 ms margin (it may then also get an event published up to
 * about 50 ms before the call; it never misses one published after it). '0-0' when the stream
 * does not exist. Never rejects:
 * undefined when the read failed (the group then starts at '$').
 *
 * Sent as EVAL, not EVALSHA: a NOSCRIPT retry would run after commands sent meanwhile.
 */
export function captureStreamEnd(redis: Redis, stream: string): Promise<string | undefined> {
  const calledAt = monotonicMs();
  const inOrder = redis.status === 'ready';
  return (redis.eval(CAPTURE, 1, stream) as Promise<[string, string, string]>).then(
    ([sec, usec, last]) => {
      if (last === '') return '0-0';
      if (inOrder) return last;
      const elapsed = Math.ceil(monotonicMs() - calledAt);
      // SLACK_MS more: the caller may have decided to subscribe a little before this function ran
      // (a cold process on a busy machine takes ms to get here).
      const bound = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - elapsed - SLACK_MS - 1;
      const byTime = bound >= 0 ? `${bound}-18446744073709551615` : '0-0';
      return compareIdStrings(last, byTime) <= 0 ? last : byTime;
    },
    () => undefined,
  );
}

function compareIdStrings(a: string, b: string): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const ms = BigInt(am!) - BigInt(bm!);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const sq = BigInt(as) - BigInt(bs);
  return sq === 0n ? 0 : sq < 0n ? -1 : 1;
}
