--[[
  Read new entries of one owned partition for an ordered group, only while the caller's
  lease token is current: a consumer paused past its lease cannot take entries into its PEL
  (a blocking XREADGROUP cannot be fenced, which is why ordered groups never use one; see
  docs/partitions.md §5.2). Reads the redelivery stream (replays) first, then the stream, at
  most `count` entries in all. Does not block.

  KEYS[1]  the group's lease on this partition
  KEYS[2]  the group's redelivery stream of this partition
  KEYS[3]  the partition's stream

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  lease token
  ARGV[4]  count (>= 1)

  Reply: { 'fenced' } | { 'ok', redelivery entries, stream entries } (each a list of { id, fields })
         When nothing was read, two more values: the last entry id of the redelivery stream and
         of the stream ('0-0' when empty). Every entry up to them is delivered, so a blocking
         XREAD from them (which takes nothing into a PEL) wakes the caller on the next new entry.
]]
local lease, redeliver, stream = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, token = ARGV[1], ARGV[2], ARGV[3]
-- @include checkArgs
-- @include checkLease
needCount('token', token)
local count = needCount('count', ARGV[4])
if count < 1 then argError('count', ARGV[4]) end
if not leaseHeld(lease, token) then return { 'fenced' } end

local function read(key, n)
  local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', key, '>')
  if not reply or not reply[1] then return {} end
  return reply[1][2]
end
local first = read(redeliver, count)
local second = {}
if #first < count then second = read(stream, count - #first) end
if #first + #second > 0 then return { 'ok', first, second } end
local function top(key)
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if last[1] == nil then return '0-0' end
  return last[1][1]
end
return { 'ok', first, second, top(redeliver), top(stream) }
