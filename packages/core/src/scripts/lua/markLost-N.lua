--[[
  Entries that were deleted from the stream while pending (trimmed): acknowledge what is
  left of them and record them as lost, once.

  KEYS[1]     source stream
  KEYS[2..n]  status hash of each event

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  status TTL in seconds
  ARGV[4]  completion channel ('' to skip)
  ARGV[5]  reason
  then per entry, 2 values: entry id, event id

  Reply: number of entries recorded as lost
]]
local stream = KEYS[1]
local group, consumer, ttl, channel, reason = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
-- @include writeStatus
-- @include serverNowMs
local now = tostring(serverNowMs())
local n, marked = 0, {}
for i = 6, #ARGV, 2 do
  n = n + 1
  local entryId, eventId = ARGV[i], ARGV[i + 1]
  redis.call('XACK', stream, group, entryId)
  local field = group .. ':state'
  if redis.call('HGET', KEYS[n + 1], field) ~= 'lost' then
    writeStatus(KEYS[n + 1], group, ttl, { 'state', 'lost', 'error', reason, 'updatedAt', now, 'finishedAt', now, 'consumer', consumer })
    marked[#marked + 1] = eventId
  end
end
if #marked > 0 and channel ~= '' then
  redis.call('PUBLISH', channel, 'lost|' .. group .. '|' .. table.concat(marked, ','))
end
return #marked
