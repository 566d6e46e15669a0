--[[
  Move one entry to the group's dead letters: copy it with its error and attempts to the
  dead-letter stream, acknowledge it in its source stream and mark the status `dead`,
  all in one step.

  KEYS[1]  source stream
  KEYS[2]  the group's dead-letter stream
  KEYS[3]  status hash of the event
  KEYS[4]  the group's retry sorted set (cleared of this event)

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  entry id
  ARGV[4]  event id
  ARGV[5]  attempts made
  ARGV[6]  last error
  ARGV[7]  reason (handler | attempts | malformed | hung)
  ARGV[8]  dead-letter stream cap (approximate MAXLEN, 0: none)
  ARGV[9]  status TTL in seconds
  ARGV[10] completion channel ('' to skip)
  ARGV[11] check ownership '1'/'0'
  ARGV[12] track status '1'/'0'

  Reply: dead-letter entry id, or false when the entry is no longer ours.
]]
local stream, dlq, statusKey = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, entryId, eventId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local attempts, err, reason = ARGV[5], ARGV[6], ARGV[7]
local cap, ttl, channel = tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10]
local checkOwner, track = ARGV[11] == '1', ARGV[12] == '1'
-- @include ownedDeliveries
-- @include writeStatus
-- @include serverNowMs
-- @include entryFields

if checkOwner and ownedDeliveries(stream, group, consumer, entryId) == nil then return false end
local fields, flat = entryFields(stream, entryId)
-- XACK first: at maxmemory Redis refuses a script's first write if it may grow memory
-- (XADD), not XACK, and allows the writes after it; so poison still reaches dead letters.
redis.call('XACK', stream, group, entryId)
local now = tostring(serverNowMs())
local args = { dlq }
if cap > 0 then
  args[#args + 1] = 'MAXLEN'; args[#args + 1] = '~'; args[#args + 1] = cap
end
args[#args + 1] = '*'
local function add(k, v) args[#args + 1] = k; args[#args + 1] = v end
add('id', eventId)
add('entry', entryId)
if fields ~= nil and fields['payload'] ~= nil then
  add('payload', fields['payload'])
  add('headers', fields['headers'] or '')
elseif flat ~= nil then
  add('raw', cjson.encode(flat))
end
add('attempts', attempts)
add('error', err)
add('reason', reason)
add('consumer', consumer)
add('deadAt', now)
local dlqId = redis.call('XADD', unpack(args))
redis.call('ZREM', KEYS[4], eventId)
if track then
  writeStatus(statusKey, group, ttl, {
    'state', 'dead', 'attempts', attempts, 'error', err, 'consumer', consumer,
    'updatedAt', now, 'finishedAt', now, 'deadLetterId', dlqId,
  })
end
if channel ~= '' then redis.call('PUBLISH', channel, 'dead|' .. group .. '|' .. eventId) end
return dlqId
