--[[
  Move one entry to the group's dead letters: copy it with its error and attempts to the
  dead-letter stream, acknowledge it in its source stream and mark the status `dead`,
  all in one step. An entry deleted from its stream (trimmed, XDEL) while its handler ran
  has no payload to keep: it is acknowledged and recorded `lost` instead, once.

  KEYS[1]  source stream
  KEYS[2]  the group's dead-letter stream
  KEYS[3]  status hash of the event
  KEYS[4]  waiters key: the completion notice is published only while it exists

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
  ARGV[13] 'P' to PUBLISH, 'S' to SPUBLISH

  Reply: { 'dead', dead-letter entry id } | { 'stale' } when the entry is no longer ours
       | { 'lost' } when it was gone from the stream
]]
local stream, dlq, statusKey, waiters = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, consumer, entryId, eventId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local err, reason, channel = ARGV[6], ARGV[7], ARGV[10]
-- @include ownedDeliveries
-- @include writeStatus
-- @include serverNowMs
-- @include entryFields
-- @include checkArgs
-- @include orphaned
-- @include deadLetters

-- Every check before the first write: Lua does not roll back the XACK if XADD then raised.
needId('entry id', entryId)
needId('event id', eventId)
local attempts = tostring(needCount('attempts', ARGV[5]))
local cap = needCount('cap', ARGV[8])
local ttl = needCount('ttl', ARGV[9])
local checkOwner = needOneOf('check owner', ARGV[11], '1', '0') == '1'
local track = needOneOf('track', ARGV[12], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[13], 'P', 'S')
needReason(reason)
needType(dlq, 'stream')
needType(statusKey, 'hash')

local function notify(state)
  if channel ~= '' and redis.call('EXISTS', waiters) == 1 then
    redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, state .. '|' .. group .. '|' .. eventId)
  end
end

if checkOwner and ownedDeliveries(stream, group, consumer, entryId) == nil then
  -- Not ours. If the status says this consumer dead-lettered it, this is a resend of a call
  -- that ran before (ioredis resends a command whose reply a reconnect lost).
  local st = redis.call('HMGET', statusKey, group .. ':state', group .. ':consumer', group .. ':deadLetterId')
  if st[1] == 'dead' and st[2] == consumer and st[3] then return { 'dead', st[3] } end
  if st[1] == 'lost' then return { 'lost' } end
  -- Unless the group was recreated while the handler ran: then dead-letter it all the same.
  if not orphaned(stream, group, consumer, entryId) then return { 'stale' } end
end
local fields, flat = entryFields(stream, entryId)
-- XACK first: at maxmemory Redis refuses a script's first write if it may grow memory
-- (XADD), not XACK, and allows the writes after it; so poison still reaches dead letters.
redis.call('XACK', stream, group, entryId)
local now = tostring(serverNowMs())
if flat == nil then
  if redis.call('HGET', statusKey, group .. ':state') ~= 'lost' then
    writeStatus(statusKey, group, ttl, {
      'state', 'lost', 'attempts', attempts, 'error', 'entry deleted from the stream while its handler ran (trimmed or XDEL); last error: ' .. err,
      'consumer', consumer, 'updatedAt', now, 'finishedAt', now,
    })
    notify('lost')
  end
  return { 'lost' }
end
local dlqId = addDeadLetter(dlq, cap, eventId, entryId, fields, flat, attempts, err, reason, consumer, now)
if track then writeDead(statusKey, group, ttl, attempts, err, consumer, now, dlqId) end
notify('dead')
return { 'dead', dlqId }
