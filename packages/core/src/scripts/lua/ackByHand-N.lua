--[[
  Acknowledge pending entries of a group by hand (an operator says "done, skip it"), all or
  nothing: when any entry is not pending in its stream, nothing is acknowledged. Each acked
  event's status in this group becomes succeeded, marked ackedByHand, and the completion
  channel is told, so waitFor resolves.

  KEYS[1]     the topic stream
  KEYS[2]     the group's redelivery stream
  KEYS[3]     waiters key: the completion notice is published only while it exists
  KEYS[4..n]  status hash of each entry's event, in the order of the entries

  ARGV[1]  group
  ARGV[2]  status TTL in seconds (0: no expiry)
  ARGV[3]  completion channel ('' to skip the notice)
  ARGV[4]  'P' to PUBLISH, 'S' to SPUBLISH (Cluster) the notice
  then per entry, 4 values: entry id, source ('topic' | 'redelivery'), event id, base attempts

  Reply: { 1, id, previous owner, attempts, ... } when acknowledged
         { 0, missing id, ... } when some are not pending (nothing acknowledged)
]]
local streams = { topic = KEYS[1], redelivery = KEYS[2] }
local waiters = KEYS[3]
local group, channel = ARGV[1], ARGV[3]
-- @include writeStatus
-- @include serverNowMs
-- @include checkArgs
local ttl = needCount('ttl', ARGV[2])
local mode = needOneOf('publish mode', ARGV[4], 'P', 'S')
local first = 5
if (#ARGV - first + 1) % 4 ~= 0 or #KEYS ~= 3 + (#ARGV - first + 1) / 4 then argError('entries', 'need 4 values and one status key per entry') end
for i = first, #ARGV, 4 do
  needId('entry id', ARGV[i]); needOneOf('source', ARGV[i + 1], 'topic', 'redelivery'); needId('event id', ARGV[i + 2]); needCount('base', ARGV[i + 3])
end
for k = 4, #KEYS do needType(KEYS[k], 'hash') end

local entries = {}
local missing = { 0 }
local n = 0
for i = first, #ARGV, 4 do
  n = n + 1
  local id, src, eventId, base = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local key = streams[src]
  local row = nil
  if key ~= nil then
    local ok, rows = pcall(redis.call, 'XPENDING', key, group, id, id, 1)
    if ok then row = rows[1] end
  end
  if row == nil then
    missing[#missing + 1] = id
  else
    entries[#entries + 1] = { id = id, key = key, eventId = eventId, owner = row[2], attempts = base + tonumber(row[4]), status = KEYS[n + 3] }
  end
end
if #missing > 1 then return missing end

local now = tostring(serverNowMs())
local reply = { 1 }
local done = {}
for _, e in ipairs(entries) do
  redis.call('XACK', e.key, group, e.id)
  writeStatus(e.status, group, ttl, {
    'state', 'succeeded', 'attempts', tostring(e.attempts), 'error', '', 'consumer', e.owner,
    'updatedAt', now, 'finishedAt', now, 'ackedByHand', now,
  })
  done[#done + 1] = e.eventId
  reply[#reply + 1] = e.id
  reply[#reply + 1] = e.owner
  reply[#reply + 1] = e.attempts
end
if channel ~= '' and #done > 0 and redis.call('EXISTS', waiters) == 1 then
  redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'succeeded|' .. group .. '|' .. table.concat(done, ','))
end
return reply
