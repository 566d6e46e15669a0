--[[
  A handler failed and attempts remain: acknowledge the entry in its source stream and
  schedule a retry of the same event for this group only, after a backoff measured with
  server time. The retry copy lives in the group's retry set until due, then moves to the
  group's redelivery stream (see promoteDue), so it is never held in a worker's memory.

  KEYS[1]  source stream
  KEYS[2]  the group's retry sorted set
  KEYS[3]  the group's redelivery stream
  KEYS[4]  status hash of the event

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  entry id
  ARGV[4]  event id
  ARGV[5]  base attempts of the entry
  ARGV[6]  error message
  ARGV[7]  backoff in ms
  ARGV[8]  status TTL in seconds
  ARGV[9]  track status '1'/'0'

  Reply: { 1, attempts, dueAtMs } when scheduled, { 0 } when the entry is no longer ours.
]]
local stream, retrySet, redeliver, statusKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, consumer, entryId, eventId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local base, err, backoff, ttl = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local track = ARGV[9] == '1'
-- @include ownedDeliveries
-- @include writeStatus
-- @include serverNowMs
-- @include entryFields

local deliveries = ownedDeliveries(stream, group, consumer, entryId)
if deliveries == nil then return { 0 } end
local attempts = base + deliveries
local fields = entryFields(stream, entryId)
local now = serverNowMs()
local due = now + backoff
redis.call('XACK', stream, group, entryId)
if fields ~= nil then
  local copy = { payload = fields['payload'] or '', headers = fields['headers'] or '', orig = eventId, base = tostring(attempts) }
  if backoff <= 0 then
    redis.call('XADD', redeliver, '*', 'payload', copy.payload, 'headers', copy.headers, 'orig', copy.orig, 'base', copy.base)
  else
    redis.call('ZADD', retrySet, due, cjson.encode(copy))
  end
end
if track then
  writeStatus(statusKey, group, ttl, {
    'state', 'failed', 'attempts', tostring(attempts), 'error', err,
    'consumer', consumer, 'updatedAt', tostring(now), 'nextAttemptAt', tostring(due),
  })
end
return { 1, attempts, due }
