--[[
  Read at most `count` new entries for one consumer across the group's redelivery stream
  (retries first) and the topic stream. XREADGROUP's COUNT applies per stream, so one read
  of both streams could deliver up to twice the free slots; this never does. It does not
  block: when it finds nothing, the caller blocks on both streams.

  KEYS[1]  the group's redelivery stream
  KEYS[2]  the topic stream

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  count (the free slots, >= 1)

  Reply: { redelivery entries, topic entries }, each a list of { id, fields }
]]
local redeliver, stream = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
-- @include checkArgs
local count = needCount('count', ARGV[3])
if count < 1 then argError('count', ARGV[3]) end

local function read(key, n)
  local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', key, '>')
  if not reply or not reply[1] then return {} end
  return reply[1][2]
end

local first = read(redeliver, count)
local second = {}
if #first < count then second = read(stream, count - #first) end
return { first, second }
