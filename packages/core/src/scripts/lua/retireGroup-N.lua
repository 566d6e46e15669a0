--[[
  Retire a consumer group for good: destroy it on the topic stream and on its redelivery
  stream, drop its redelivery stream and retry set (and its dead letters when asked), and list
  it in the topic's retired hash, so no subscriber recreates it (see createGroup). Idempotent:
  a second call finds it retired, keeps the first time and destroys anything recreated since.

  XGROUP DESTROY frees the group's pending entries list, one step per pending entry (Redis has
  no lazy free for it); the streams and sets are dropped with UNLINK (freed in the background).

  KEYS[1]  topic stream
  KEYS[2]  the group's redelivery stream
  KEYS[3]  the group's retry sorted set
  KEYS[4]  the group's dead letters (a stream)
  KEYS[5]  the topic's retired hash (group -> retired at, server ms)
  KEYS[6]  waiters key: the `retired` notice is published only while it exists
  KEYS[7..n]  status hashes of events whose retry this drops (from the retry set's members and the
           unread copies of the redelivery stream, read by the caller just before): their
           `<group>:nextAttemptAt` is removed, as no retry will come (the state stays). At most
           1000 per call; the caller calls again with the next ones (a repeat call finds the
           group retired and only clears those).

  ARGV[1]  group
  ARGV[2]  '1' to delete the dead letters too, '0' to keep them
  ARGV[3]  completion channel
  ARGV[4]  'P' to PUBLISH, 'S' to SPUBLISH the notice

  Reply: { state, retiredAt, consumers, pending, retrying, deadLetters, deadLettersDeleted }
    state 'retired' (now), 'already' (it was retired before), 'unknown' (no such group: nothing
    written; then consumers.. are 0). pending counts both streams; deadLetters is the count
    before any deletion; deadLettersDeleted 1/0.
]]
local stream, redeliver, retrySet, dlq, retired, waiters = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local group, channel = ARGV[1], ARGV[3]
-- @include checkArgs
-- @include serverNowMs

if type(group) ~= 'string' or group == '' then argError('group', group) end
local dropDead = needOneOf('delete dead letters', ARGV[2], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[4], 'P', 'S')
needType(retired, 'hash')
if #KEYS < 6 or #KEYS > 1006 then argError('keys', #KEYS) end
for k = 7, #KEYS do needType(KEYS[k], 'hash') end

-- The group's row of XINFO GROUPS on a stream, or nil (no stream, or no such group).
local function groupRow(key)
  if redis.call('EXISTS', key) == 0 or redis.call('TYPE', key)['ok'] ~= 'stream' then return nil end
  for _, row in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local info = {}
    for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
    if info['name'] == group then return info end
  end
  return nil
end

local onTopic, onRedeliver = groupRow(stream), groupRow(redeliver)
local before = redis.call('HGET', retired, group)
local retrying = redis.call('EXISTS', retrySet) == 1 and redis.call('ZCARD', retrySet) or 0
local deadLetters = redis.call('EXISTS', dlq) == 1 and redis.call('XLEN', dlq) or 0
if not before and not onTopic and not onRedeliver and retrying == 0 and deadLetters == 0
  and redis.call('EXISTS', redeliver) == 0 then
  return { 'unknown', 0, 0, 0, 0, 0, 0 }
end

-- The retries dropped with the group never come: their status must not promise one.
for k = 7, #KEYS do redis.call('HDEL', KEYS[k], group .. ':nextAttemptAt') end

local consumers = onTopic and tonumber(onTopic['consumers']) or 0
local pending = (onTopic and tonumber(onTopic['pending']) or 0) + (onRedeliver and tonumber(onRedeliver['pending']) or 0)
if onTopic then redis.call('XGROUP', 'DESTROY', stream, group) end
if onRedeliver then redis.call('XGROUP', 'DESTROY', redeliver, group) end
redis.call('UNLINK', redeliver, retrySet)
if dropDead then redis.call('UNLINK', dlq) end
local at = before
if not at then
  at = tostring(serverNowMs())
  redis.call('HSET', retired, group, at)
end
if redis.call('EXISTS', waiters) == 1 then
  redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'retired|' .. group .. '|')
end
return { before and 'already' or 'retired', tonumber(at), consumers, pending, retrying, deadLetters, dropDead and 1 or 0 }
