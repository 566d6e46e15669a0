--[[
  A retry copy or a replayed dead letter (an entry of the group's redelivery stream) starts
  running: record `processing` in the event's status, so a retry or a replay does not read
  as `failed` or `dead` while it runs. Fields of the previous outcome that no longer hold
  (finishedAt, deadLetterId, nextAttemptAt, result) are removed; the last error is kept.
  Written only while this consumer owns the entry, so it never overwrites a later state.

  KEYS[1]  the group's redelivery stream
  KEYS[2]  status hash of the event

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  entry id
  ARGV[4]  base attempts of the entry
  ARGV[5]  status TTL in seconds

  Reply: 1 written, 0 not ours any more
]]
local stream, statusKey = KEYS[1], KEYS[2]
local group, consumer, entryId = ARGV[1], ARGV[2], ARGV[3]
-- @include ownedDeliveries
-- @include serverNowMs
-- @include writeStatus
-- @include checkArgs
needId('entry id', entryId)
local base = needCount('base', ARGV[4])
local ttl = needCount('ttl', ARGV[5])
needType(statusKey, 'hash')

local deliveries = ownedDeliveries(stream, group, consumer, entryId)
if deliveries == nil then return 0 end
redis.call('HDEL', statusKey, group .. ':finishedAt', group .. ':deadLetterId', group .. ':nextAttemptAt', group .. ':result')
writeStatus(statusKey, group, ttl, {
  'state', 'processing', 'attempts', tostring(base + deliveries), 'consumer', consumer,
  'updatedAt', tostring(serverNowMs()),
})
return 1
