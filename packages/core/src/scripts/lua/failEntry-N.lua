--[[
  A handler failed and attempts remain: acknowledge the entry in its source stream and
  schedule a retry of the same event for this group only, after a backoff measured with
  server time. The retry copy lives in the group's retry set until due, then moves to the
  group's redelivery stream (see promoteDue), so it is never held in a worker's memory.
  When the entry was deleted from its stream while the handler ran (trimmed, XDEL), there is
  nothing to retry: it is acknowledged and recorded `lost`, once.

  KEYS[1]  source stream
  KEYS[2]  the group's retry sorted set
  KEYS[3]  the group's redelivery stream
  KEYS[4]  status hash of the event
  KEYS[5]  waiters key: the `lost` notice is published only while it exists
  KEYS[6]  optional: the group's copy -> event map (`T:copies:<group>`): a copy written straight
           to the redelivery stream (backoff 0) is recorded there (promoteDue records the others)

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  entry id
  ARGV[4]  event id
  ARGV[5]  base attempts of the entry
  ARGV[6]  error message
  ARGV[7]  backoff in ms (a whole number >= 0)
  ARGV[8]  status TTL in seconds
  ARGV[9]  track status '1'/'0'
  ARGV[10] completion channel ('' to skip)
  ARGV[11] 'P' to PUBLISH, 'S' to SPUBLISH

  Reply: { 1, attempts, dueAtMs } when scheduled (or found scheduled by this consumer: a resend),
         { 0 } when the entry is no longer ours,
         { 2, attempts } when the entry was gone from the stream: recorded lost.
]]
local stream, retrySet, redeliver, statusKey, waiters, copies = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local group, consumer, entryId, eventId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local err, channel = ARGV[6], ARGV[10]
-- @include ownedDeliveries
-- @include writeStatus
-- @include serverNowMs
-- @include entryFields
-- @include checkArgs
-- @include orphaned
-- @include copyMap

-- Every check before the first write: Lua does not roll back the XACK if ZADD then raised.
needId('entry id', entryId)
needId('event id', eventId)
local base = needCount('base', ARGV[5])
local backoff = needCount('backoff', ARGV[7])
local ttl = needCount('ttl', ARGV[8])
local track = needOneOf('track', ARGV[9], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[11], 'P', 'S')
needType(retrySet, 'zset')
needType(redeliver, 'stream')
needType(statusKey, 'hash')
if #KEYS ~= 5 and #KEYS ~= 6 then argError('keys', #KEYS) end
if copies ~= nil then needType(copies, 'zset') end

local deliveries = ownedDeliveries(stream, group, consumer, entryId)
if deliveries == nil then
  -- Not ours. If the status says this consumer failed it and scheduled a retry, this is a
  -- resend of a call that ran before (ioredis resends a command whose reply a reconnect lost).
  local st = redis.call('HMGET', statusKey, group .. ':state', group .. ':consumer', group .. ':attempts', group .. ':nextAttemptAt')
  if st[1] == 'failed' and st[2] == consumer and st[4] then return { 1, tonumber(st[3]), tonumber(st[4]) } end
  if st[1] == 'lost' then return { 2, tonumber(st[3]) or 0 } end
  if not orphaned(stream, group, consumer, entryId) then return { 0 } end
  -- The group was recreated while the handler ran: schedule the retry all the same.
  deliveries = 1
end
local attempts = base + deliveries
local fields = entryFields(stream, entryId)
local now = serverNowMs()
local due = now + backoff
redis.call('XACK', stream, group, entryId)
if fields == nil then
  -- Deleted while the handler ran: its payload is gone, a retry could never come.
  if redis.call('HGET', statusKey, group .. ':state') ~= 'lost' then
    writeStatus(statusKey, group, ttl, {
      'state', 'lost', 'attempts', tostring(attempts), 'error', 'entry deleted from the stream while its handler ran (trimmed or XDEL); last error: ' .. err,
      'consumer', consumer, 'updatedAt', tostring(now), 'finishedAt', tostring(now),
    })
    if channel ~= '' and redis.call('EXISTS', waiters) == 1 then
      redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'lost|' .. group .. '|' .. eventId)
    end
  end
  return { 2, attempts }
end
-- The copy keeps the event id, its attempts so far, the delayed id a delayed publish had and the
-- partition key of a partitioned topic's event.
local copy = { payload = fields['payload'] or '', headers = fields['headers'] or '', orig = eventId, base = tostring(attempts) }
if fields['delayed'] ~= nil then copy.delayed = fields['delayed'] end
if fields['key'] ~= nil then copy.key = fields['key'] end
if backoff <= 0 then
  local args = { redeliver, '*', 'payload', copy.payload, 'headers', copy.headers, 'orig', copy.orig, 'base', copy.base }
  if copy.delayed ~= nil then args[#args + 1] = 'delayed'; args[#args + 1] = copy.delayed end
  if copy.key ~= nil then args[#args + 1] = 'key'; args[#args + 1] = copy.key end
  local copyId = redis.call('XADD', unpack(args))
  if copies ~= nil then
    recordCopy(copies, copyId, eventId)
    pruneCopies(copies, redeliver, group, ttl)
  end
else
  redis.call('ZADD', retrySet, due, cjson.encode(copy))
end
if track then
  writeStatus(statusKey, group, ttl, {
    'state', 'failed', 'attempts', tostring(attempts), 'error', err,
    'consumer', consumer, 'updatedAt', tostring(now), 'nextAttemptAt', tostring(due),
  })
end
return { 1, attempts, due }
