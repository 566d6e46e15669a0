--[[
  An ordered group's entry starts an attempt (its first, or a retry in place, or a run after a
  takeover): XCLAIM without JUSTID counts the delivery and returns the entry's fields, and the
  status says `processing`. Attempts of an ordered entry are its deliveries minus the read
  that brought it in, so an attempt cut short by a crash is counted when the next owner
  starts it. Only while the caller's lease token is current and the entry is pending to it.

  KEYS[1]  the group's lease on this partition
  KEYS[2]  the partition's stream, or the group's redelivery stream of it
  KEYS[3]  status hash of the event
  KEYS[4]  optional (afterDeadLetter 'hold'): the group's blocked keys of this partition, a hash
           key → id of the dead letter that blocks it, or 'replay:<redelivery entry id>' while
           that dead letter's replay runs

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  lease token
  ARGV[4]  entry id
  ARGV[5]  status TTL in seconds (0: no expiry)
  ARGV[6]  track status '1'/'0'
  ARGV[7]  with KEYS[4]: the entry's key mark, 's=<key>' (topic stream) or 'r=<key>' (redelivery)

  Reply: { 'fenced' } | { 'stale' } (not pending to this consumer)
       | { 'lost', attempts so far } (deleted from the stream: record it lost)
       | { 'blocked', what blocks its key } (afterDeadLetter 'hold': its key waits for a dead
         letter; nothing written, the entry stays pending to the caller)
       | { 'run', attempt number, fields }
]]
local lease, stream, statusKey = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, token, entryId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- @include checkArgs
-- @include checkLease
-- @include ownedDeliveries
-- @include serverNowMs
-- @include writeStatus
needCount('token', token)
needId('entry id', entryId)
local ttl = needCount('ttl', ARGV[5])
local track = needOneOf('track', ARGV[6], '1', '0') == '1'
if #KEYS ~= 3 and #KEYS ~= 4 then argError('keys', #KEYS) end
local blocked, heldKey, kind = KEYS[4], nil, nil
if blocked ~= nil then
  kind, heldKey = string.match(ARGV[7] or '', '^([sr])=(.*)$')
  if kind == nil then argError('key mark', ARGV[7]) end
end
needType(statusKey, 'hash')
if not leaseHeld(lease, token) then return { 'fenced' } end

local deliveries = ownedDeliveries(stream, group, consumer, entryId)
if deliveries == nil then return { 'stale' } end
if blocked ~= nil then
  local holder = redis.call('HGET', blocked, heldKey)
  if holder and not (kind == 'r' and holder == 'replay:' .. entryId) then return { 'blocked', holder } end
end
-- Before: the read counted one delivery, every earlier start one more.
local attempt = deliveries
if redis.call('XRANGE', stream, entryId, entryId)[1] == nil then return { 'lost', attempt - 1 } end
local claimed = redis.call('XCLAIM', stream, group, consumer, 0, entryId)
if track then
  redis.call('HDEL', statusKey, group .. ':finishedAt', group .. ':deadLetterId', group .. ':nextAttemptAt', group .. ':result')
  writeStatus(statusKey, group, ttl, {
    'state', 'processing', 'attempts', tostring(attempt), 'consumer', consumer, 'updatedAt', tostring(serverNowMs()),
  })
end
return { 'run', attempt, claimed[1][2] }
