--[[
  Publish with an idempotency key: the first publish writes the entry (or schedules it)
  and remembers its id for a window; a repeat within the window writes nothing and
  returns the first id. A resend of the call by ioredis is such a repeat.

  KEYS[1]  topic stream
  KEYS[2]  idempotency marker
  KEYS[3]  the delayed sorted set       (delayed publishes only)
  KEYS[4]  the event's delayed-id hash  (delayed publishes only)

  ARGV[1]  payload
  ARGV[2]  headers
  ARGV[3]  window in ms
  ARGV[4]  '' for immediate, else the delayed id
  ARGV[5]  delay in ms (relative to server time), when ARGV[6] is ''
  ARGV[6]  absolute due time in ms, or ''
  ARGV[7]  key mark (optional): '' or absent for no key, '=' followed by the key (partitioned
           topics: the entry, or the delayed event, gets a `key` field)
  ARGV[8]  lane id prefix (optional): '' or absent for an unprioritized topic or the default
           lane; '<lane>:' for another lane of a prioritized topic (docs/priorities.md §4). The
           marker, shared by every lane of the topic, then remembers the PUBLIC id
           '<lane>:<id>', so a repeat in any lane returns the first publish's id with its lane.

  Reply: { 1 if written else 0, id } (the public id with its lane prefix, or the marker's value on a repeat)
]]
local stream, marker, set, ref = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local payload, headers, delayedId = ARGV[1], ARGV[2], ARGV[4]
local mark = ARGV[7] or ''
local lanePrefix = ARGV[8] or ''
-- @include serverNowMs
-- @include checkArgs
if lanePrefix ~= '' and not string.match(lanePrefix, '^[a-z][a-z0-9_-]*:$') then argError('lane prefix', lanePrefix) end
local window = needCount('window', ARGV[3])
if window < 1 then argError('window', ARGV[3]) end
local due
if delayedId ~= '' then
  if #KEYS ~= 4 or string.sub(delayedId, 1, 8) ~= 'delayed-' then argError('delayed id', delayedId) end
  if ARGV[6] ~= '' then due = needCount('due time', ARGV[6]) else due = serverNowMs() + needCount('delay', ARGV[5]) end
  needType(ref, 'hash'); needType(set, 'zset')
elseif #KEYS ~= 2 then
  argError('keys', 'an immediate publish takes 2 keys')
end

local existing = redis.call('GET', marker)
if existing then return { 0, existing } end
local id
if delayedId == '' then
  if mark == '' then
    id = redis.call('XADD', stream, '*', 'payload', payload, 'headers', headers)
  else
    id = redis.call('XADD', stream, '*', 'payload', payload, 'headers', headers, 'key', string.sub(mark, 2))
  end
else
  redis.call('HSET', ref, 'payload', payload, 'headers', headers, 'due', due)
  if mark ~= '' then redis.call('HSET', ref, 'key', string.sub(mark, 2)) end
  redis.call('ZADD', set, due, delayedId)
  id = delayedId
end
redis.call('SET', marker, lanePrefix .. id, 'PX', window)
return { 1, lanePrefix .. id }
