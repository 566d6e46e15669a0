--[[
  Create a consumer group unless it was retired for good (see retireGroup), and register a
  consumer in it, so `groups` shows a pool at once, before its first read. Atomic with
  retireGroup: a group retired a moment ago is never recreated behind it.

  KEYS[1]  stream (created empty when missing: MKSTREAM)
  KEYS[2]  the topic's retired hash (group -> retired at, server ms)

  ARGV[1]  group
  ARGV[2]  where a new group starts: '$', '0' or an entry id (ms or ms-seq)
  ARGV[3]  consumer to register ('' for none)

  Reply: { 'created', lastDeliveredId } | { 'exists', '' } | { 'retired', retiredAtMs }
]]
local stream, retired = KEYS[1], KEYS[2]
local group, start, consumer = ARGV[1], ARGV[2], ARGV[3]
-- @include checkArgs

if type(group) ~= 'string' or group == '' then argError('group', group) end
if start ~= '$' and not string.match(start, '^%d+$') and not string.match(start, '^%d+%-%d+$') then argError('start', start) end
needType(retired, 'hash')
needType(stream, 'stream')

local at = redis.call('HGET', retired, group)
if at then return { 'retired', at } end

local function lastDelivered()
  if redis.call('EXISTS', stream) == 0 then return nil end
  for _, row in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local info = {}
    for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
    if info['name'] == group then return info['last-delivered-id'] end
  end
  return nil
end

local state, id = 'exists', ''
if lastDelivered() == nil then
  redis.call('XGROUP', 'CREATE', stream, group, start, 'MKSTREAM')
  state, id = 'created', lastDelivered()
end
-- Refused at maxmemory (noeviction) like any write: the consumer then appears at its first read.
if consumer ~= '' then redis.pcall('XGROUP', 'CREATECONSUMER', stream, group, consumer) end
return { state, id }
