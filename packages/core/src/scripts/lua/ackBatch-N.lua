--[[
  Acknowledge a batch of entries that succeeded, and record their status, in one step.
  Refuses any entry this consumer no longer owns (it was reclaimed by another consumer).

  KEYS[1]      source stream (the topic stream or the group's redelivery stream)
  KEYS[2..n]   status hash of each entry's event, in the order of the entries

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  status TTL in seconds (0: no expiry)
  ARGV[4]  completion channel ('' to skip PUBLISH)
  ARGV[5]  track status: '1' or '0'
  then per entry, 4 values: entryId, eventId, base attempts, result ('' for none)

  Reply: { acked count, refused entry ids... }
]]
local stream = KEYS[1]
local group, consumer = ARGV[1], ARGV[2]
local ttl = tonumber(ARGV[3])
local channel = ARGV[4]
local track = ARGV[5] == '1'
-- @include ownedDeliveries
-- @include writeStatus
-- @include serverNowMs

local now = tostring(serverNowMs())
local refused = {}
local acked = {}
local done = {}
local n = 0
for i = 6, #ARGV, 4 do
  n = n + 1
  local entryId, eventId = ARGV[i], ARGV[i + 1]
  local base, result = tonumber(ARGV[i + 2]), ARGV[i + 3]
  local deliveries = ownedDeliveries(stream, group, consumer, entryId)
  if deliveries == nil then
    refused[#refused + 1] = entryId
  else
    acked[#acked + 1] = entryId
    done[#done + 1] = eventId
    if track then
      writeStatus(KEYS[n + 1], group, ttl, {
        'state', 'succeeded', 'attempts', tostring(base + deliveries),
        'result', result, 'consumer', consumer, 'updatedAt', now, 'finishedAt', now,
      })
    end
  end
end
if #acked > 0 then
  redis.call('XACK', stream, group, unpack(acked))
  if channel ~= '' then
    redis.call('PUBLISH', channel, 'succeeded|' .. group .. '|' .. table.concat(done, ','))
  end
end
local reply = { #acked }
for _, id in ipairs(refused) do reply[#reply + 1] = id end
return reply
