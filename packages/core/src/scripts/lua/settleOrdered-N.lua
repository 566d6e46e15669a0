--[[
  An ordered group's attempt settled for good: succeeded (XACK, status `succeeded`), or dead
  (copied to the group's dead letters with its key, XACK, status `dead`). Either way its entry
  leaves the partition's backoff set, and waitFor is told. Only while the caller's lease token
  is current (a consumer paused past its lease cannot ack or write status: docs/partitions.md
  §5.2) and the entry is pending to it. An entry deleted from the stream meanwhile is
  acknowledged and recorded `lost`.

  KEYS[1]  the group's lease on this partition
  KEYS[2]  the partition's stream, or the group's redelivery stream of it
  KEYS[3]  the group's backoff set of this partition
  KEYS[4]  status hash of the event
  KEYS[5]  waiters key: the completion notice is published only while it exists
  KEYS[6]  the group's dead-letter stream of this partition
  KEYS[7]  optional (afterDeadLetter 'hold'): the group's blocked keys of this partition (a hash,
           key → dead-letter id, or 'replay:<redelivery entry id>' while its replay runs)

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  lease token
  ARGV[4]  entry id
  ARGV[5]  event id
  ARGV[6]  outcome: 'succeeded' or 'dead'
  ARGV[7]  attempts made
  ARGV[8]  result (succeeded; '' for none) or last error (dead)
  ARGV[9]  dead-letter reason (handler | attempts | malformed | hung; '' when succeeded)
  ARGV[10] dead-letter stream cap (approximate MAXLEN, 0: none)
  ARGV[11] status TTL in seconds (0: no expiry)
  ARGV[12] completion channel ('' to skip)
  ARGV[13] track status '1'/'0'
  ARGV[14] 'P' to PUBLISH, 'S' to SPUBLISH
  ARGV[15] with KEYS[7]: the entry's key mark, 's=<key>' (topic stream) or 'r=<key>' (redelivery)
           A dead letter blocks its key (HSET key → its dead-letter id); the success (or loss) of
           the replay that holds the block ('replay:<this entry id>') clears it.

  Reply: { 'fenced' } | { 'stale' } (not pending to this consumer) | { 'lost' }
       | { 'succeeded' } | { 'dead', dead-letter entry id }
]]
local lease, stream, backoff, statusKey, waiters, dlq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local group, consumer, token, entryId, eventId = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local outcome, text, reason, channel = ARGV[6], ARGV[8], ARGV[9], ARGV[12]
-- @include checkArgs
-- @include checkLease
-- @include ownedDeliveries
-- @include serverNowMs
-- @include writeStatus
-- @include entryFields
needCount('token', token)
needId('entry id', entryId)
needId('event id', eventId)
needOneOf('outcome', outcome, 'succeeded', 'dead')
local attempts = tostring(needCount('attempts', ARGV[7]))
if text == nil then argError('result', text) end
local cap = needCount('cap', ARGV[10])
local ttl = needCount('ttl', ARGV[11])
local track = needOneOf('track', ARGV[13], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[14], 'P', 'S')
if #KEYS ~= 6 and #KEYS ~= 7 then argError('keys', #KEYS) end
local blocked, heldKey, kind = KEYS[7], nil, nil
if blocked ~= nil then
  kind, heldKey = string.match(ARGV[15] or '', '^([sr])=(.*)$')
  if kind == nil then argError('key mark', ARGV[15]) end
  needType(blocked, 'hash')
end
if outcome == 'dead' and reason ~= 'handler' and reason ~= 'attempts' and reason ~= 'malformed' and reason ~= 'hung' then argError('reason', reason) end
needType(backoff, 'zset')
needType(statusKey, 'hash')
needType(dlq, 'stream')
if not leaseHeld(lease, token) then return { 'fenced' } end
if ownedDeliveries(stream, group, consumer, entryId) == nil then return { 'stale' } end

local function notify(state)
  if channel ~= '' and redis.call('EXISTS', waiters) == 1 then
    redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, state .. '|' .. group .. '|' .. eventId)
  end
end
-- The replay that holds its key's block ended (succeeded, or its entry is gone): the key runs again.
local function unblockIfReplay()
  if blocked ~= nil and kind == 'r' and redis.call('HGET', blocked, heldKey) == 'replay:' .. entryId then
    redis.call('HDEL', blocked, heldKey)
  end
end
local fields, flat = entryFields(stream, entryId)
-- XACK first: at maxmemory Redis refuses a script's first write if it may grow memory.
redis.call('XACK', stream, group, entryId)
redis.call('ZREM', backoff, entryId)
local now = tostring(serverNowMs())
if flat == nil then
  if track then
    writeStatus(statusKey, group, ttl, {
      'state', 'lost', 'attempts', attempts, 'error', 'entry deleted from the stream while pending (trimmed or XDEL)',
      'consumer', consumer, 'updatedAt', now, 'finishedAt', now,
    })
  end
  unblockIfReplay()
  notify('lost')
  return { 'lost' }
end
if outcome == 'succeeded' then
  if track then
    redis.call('HDEL', statusKey, group .. ':nextAttemptAt', group .. ':error')
    local f = { 'state', 'succeeded', 'attempts', attempts, 'consumer', consumer, 'updatedAt', now }
    if text ~= '' then f[#f + 1] = 'result'; f[#f + 1] = text end
    writeStatus(statusKey, group, ttl, f)
  end
  unblockIfReplay()
  notify('succeeded')
  return { 'succeeded' }
end
local args = { dlq }
if cap > 0 then
  args[#args + 1] = 'MAXLEN'; args[#args + 1] = '~'; args[#args + 1] = cap
end
args[#args + 1] = '*'
local function add(k, v) args[#args + 1] = k; args[#args + 1] = v end
add('id', eventId)
add('entry', entryId)
if fields['payload'] ~= nil then
  add('payload', fields['payload'])
  add('headers', fields['headers'] or '')
  if fields['delayed'] ~= nil then add('delayed', fields['delayed']) end
  if fields['key'] ~= nil then add('key', fields['key']) end
else
  add('raw', cjson.encode(flat))
end
add('attempts', attempts)
add('error', text)
add('reason', reason)
add('consumer', consumer)
add('deadAt', now)
local dlqId = redis.call('XADD', unpack(args))
if track then
  redis.call('HDEL', statusKey, group .. ':nextAttemptAt')
  writeStatus(statusKey, group, ttl, {
    'state', 'dead', 'attempts', attempts, 'error', text, 'consumer', consumer,
    'updatedAt', now, 'finishedAt', now, 'deadLetterId', dlqId,
  })
end
if blocked ~= nil then redis.call('HSET', blocked, heldKey, dlqId) end
notify('dead')
return { 'dead', dlqId }
