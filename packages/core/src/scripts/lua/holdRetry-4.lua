--[[
  An ordered group's attempt failed and attempts remain: the entry stays pending to this
  consumer (no XACK, no copy: a copy could be overtaken by a later event of its key) and waits
  in the partition's backoff set until due (server time); the status says `failed`. The key's
  later events stay held behind it. A new owner finds the due time in the backoff set. Only
  while the caller's lease token is current and the entry is pending to it.

  KEYS[1]  the group's lease on this partition
  KEYS[2]  the partition's stream, or the group's redelivery stream of it
  KEYS[3]  the group's backoff set of this partition (entry id -> due ms)
  KEYS[4]  status hash of the event

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  lease token
  ARGV[4]  entry id
  ARGV[5]  attempts made
  ARGV[6]  error message
  ARGV[7]  backoff in ms (>= 0)
  ARGV[8]  status TTL in seconds (0: no expiry)
  ARGV[9]  track status '1'/'0'

  Reply: { 'fenced' } | { 'stale' } | { 'held', due ms }
]]
local lease, stream, backoff, statusKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, consumer, token, entryId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local err = ARGV[6]
-- @include checkArgs
-- @include checkLease
-- @include ownedDeliveries
-- @include serverNowMs
-- @include writeStatus
needCount('token', token)
needId('entry id', entryId)
local attempts = needCount('attempts', ARGV[5])
if err == nil then argError('error', err) end
local wait = needCount('backoff', ARGV[7])
local ttl = needCount('ttl', ARGV[8])
local track = needOneOf('track', ARGV[9], '1', '0') == '1'
needType(backoff, 'zset')
needType(statusKey, 'hash')
if not leaseHeld(lease, token) then return { 'fenced' } end
if ownedDeliveries(stream, group, consumer, entryId) == nil then return { 'stale' } end

local now = serverNowMs()
local due = now + wait
redis.call('ZADD', backoff, due, entryId)
if track then
  writeStatus(statusKey, group, ttl, {
    'state', 'failed', 'attempts', tostring(attempts), 'error', err, 'consumer', consumer,
    'updatedAt', tostring(now), 'nextAttemptAt', tostring(due),
  })
end
return { 'held', due }
