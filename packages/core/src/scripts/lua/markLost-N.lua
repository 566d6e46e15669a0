--[[
  Entries that were deleted from the stream while pending (trimmed): acknowledge what is
  left of them and record their events as lost, once per event and group.

  KEYS[1]     source stream
  KEYS[2]     waiters key: the `lost` notice is published only while it exists
  KEYS[3..n]  status hash of each event

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  status TTL in seconds
  ARGV[4]  completion channel ('' to skip)
  ARGV[5]  reason
  ARGV[6]  'P' to PUBLISH, 'S' to SPUBLISH
  then per entry, 2 values: entry id, event id (for a retry copy, the event it copies)

  An event whose status in the group is final already (succeeded or dead: another consumer
  finished it, e.g. before an XGROUP DESTROY its recreated group does not remember) keeps it.
  Only entries the stream no longer holds (`XRANGE id id` finds nothing) are acknowledged and
  recorded; the others are left alone and returned (on Redis 6.2 the caller finds deleted
  entries by elimination, and this keeps a live one from ever being acked as lost).

  Reply: { number of events recorded as lost (those not already lost), entry ids skipped (still in the stream) }
]]
local stream, waiters = KEYS[1], KEYS[2]
local group, consumer, channel, reason = ARGV[1], ARGV[2], ARGV[4], ARGV[5]
-- @include writeStatus
-- @include serverNowMs
-- @include callChunked
-- @include checkArgs

local ttl = needCount('ttl', ARGV[3])
local mode = needOneOf('publish mode', ARGV[6], 'P', 'S')
local first = 7
if (#ARGV - first + 1) % 2 ~= 0 or #KEYS ~= 2 + (#ARGV - first + 1) / 2 then
  argError('entries', 'need an entry id, an event id and one status key per entry')
end
for i = first, #ARGV, 2 do needId('entry id', ARGV[i]); needId('event id', ARGV[i + 1]) end
for k = 3, #KEYS do needType(KEYS[k], 'hash') end

local now = tostring(serverNowMs())
local ids, skipped, gone = {}, {}, {}
for i = first, #ARGV, 2 do
  if #redis.call('XRANGE', stream, ARGV[i], ARGV[i]) == 0 then
    ids[#ids + 1] = ARGV[i]
    gone[i] = true
  else
    skipped[#skipped + 1] = ARGV[i]
  end
end
if #ids > 0 then callChunked({ 'XACK', stream, group }, ids) end
local field = group .. ':state'
local n, marked = 0, {}
for i = first, #ARGV, 2 do
  n = n + 1
  local eventId = ARGV[i + 1]
  local state = gone[i] and redis.call('HGET', KEYS[n + 2], field)
  if gone[i] and state ~= 'lost' and state ~= 'succeeded' and state ~= 'dead' then
    writeStatus(KEYS[n + 2], group, ttl, { 'state', 'lost', 'error', reason, 'updatedAt', now, 'finishedAt', now, 'consumer', consumer })
    marked[#marked + 1] = eventId
  end
end
if #marked > 0 and channel ~= '' and redis.call('EXISTS', waiters) == 1 then
  redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'lost|' .. group .. '|' .. table.concat(marked, ','))
end
return { #marked, skipped }
