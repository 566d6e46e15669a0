--[[
  Fix a prioritized topic's lanes at first use, and check them on every later use
  (docs/priorities.md §1). The meta hash is written once, by the first client that uses the
  prioritized definition, and never changed. A topic whose meta records partitions is refused:
  lanes and partitions do not combine.

  KEYS[1]  the topic's meta hash ({<topic>}:meta)

  ARGV[1]  the lanes asked for, highest first, comma-separated
  ARGV[2]  the default lane asked for (one of ARGV[1])

  Reply: { 'ok', lanes, default }        the stored record matches
         { 'created', lanes, default }   this call wrote the record
         { 'mismatch', stored lanes, stored default }   nothing written
         { 'partitioned', '', '' }       the topic is partitioned; nothing written
]]
local meta = KEYS[1]
-- @include checkArgs
-- @include serverNowMs
local lanes, default = ARGV[1], ARGV[2]
if type(lanes) ~= 'string' or not string.match(lanes, '^[a-z][a-z0-9_,-]*$') then argError('lanes', lanes) end
if type(default) ~= 'string' or not string.match(default, '^[a-z][a-z0-9_-]*$') then argError('default lane', default) end
local found = false
for l in string.gmatch(lanes, '[^,]+') do if l == default then found = true end end
if not found then argError('default lane', default) end
needType(meta, 'hash')

local stored = redis.call('HMGET', meta, 'lanes', 'defaultLane', 'partitions')
if stored[3] then return { 'partitioned', '', '' } end
if stored[1] then
  if stored[1] == lanes and stored[2] == default then return { 'ok', lanes, default } end
  return { 'mismatch', stored[1], stored[2] or '' }
end
redis.call('HSET', meta, 'lanes', lanes, 'defaultLane', default, 'createdAt', tostring(serverNowMs()))
return { 'created', lanes, default }
