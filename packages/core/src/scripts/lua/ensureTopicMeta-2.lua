--[[
  Fix a topic's partition count at creation, and check it on every later use. A partitioned
  topic's meta hash is written once, by the first client that uses the topic, and never
  changed; an unpartitioned topic has no meta hash and writes nothing here.

  KEYS[1]  the topic's meta hash ({<topic>}:meta)
  KEYS[2]  the topic's unpartitioned stream ({<topic>}:stream)

  ARGV[1]  partitions asked for (0: the caller defines the topic unpartitioned)
  ARGV[2]  hash function name of the key -> partition mapping (e.g. 'murmur2')
  ARGV[3]  key layout version (e.g. '1')

  Reply: { 'ok', partitions, hash }       the stored record matches (partitions 0: unpartitioned, no record)
         { 'created', partitions, hash }  this call wrote the record
         { 'mismatch', stored partitions, stored hash }  nothing written; stored 0 means an
                                          unpartitioned topic of this name holds a stream
]]
local meta, stream = KEYS[1], KEYS[2]
-- @include checkArgs
-- @include serverNowMs
local asked = needCount('partitions', ARGV[1])
if asked > 1024 then argError('partitions', ARGV[1]) end
local hash, layout = ARGV[2], ARGV[3]
if hash == nil or not string.match(hash, '^[%w._-]+$') then argError('hash', hash) end
if layout == nil or not string.match(layout, '^%d+$') then argError('layout', layout) end
needType(meta, 'hash')

local stored = redis.call('HMGET', meta, 'partitions', 'hash')
if stored[1] then
  local p = tonumber(stored[1])
  if p == asked and stored[2] == hash then return { 'ok', p, stored[2] } end
  return { 'mismatch', p, stored[2] or '' }
end
if asked == 0 then return { 'ok', 0, '' } end
-- An unpartitioned topic of this name has a stream: partitioning it in place would strand
-- its entries and groups; that is a migration, not a definition.
if redis.call('EXISTS', stream) == 1 then return { 'mismatch', 0, '' } end
redis.call('HSET', meta, 'partitions', asked, 'hash', hash, 'layout', layout, 'createdAt', tostring(serverNowMs()))
return { 'created', asked, hash }
