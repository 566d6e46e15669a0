--[[
  An ordered group's attempt settled for good: succeeded (XACK, status `succeeded`), or dead
  (copied to the group's dead letters with its key, XACK, status `dead`), or skipped (its event
  older than the group's `skipOlderThanMs` when its turn came: XACK, status `skipped`, no handler
  run; docs/PROTOCOL.md §6.10). A plain success (no
  result) is a record in the group's success bucket of the event's second, as `ackBatch` writes
  it (protocol 2, docs/PROTOCOL.md §5.2): no status hash is written for it. Either way its entry
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
  KEYS[7]  the group's success bucket of the event's second in this partition (a string,
           `…:ok:<group>:<second>`), for a plain success's record
  KEYS[8]  optional (afterDeadLetter 'hold'): the group's blocked keys of this partition (a hash,
           key → dead-letter id, or 'replay:<redelivery entry id>' while its replay runs)

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  lease token
  ARGV[4]  entry id
  ARGV[5]  event id
  ARGV[6]  outcome: 'succeeded', 'dead' or 'skipped'
  ARGV[7]  attempts made; for 'skipped', the entry's base attempts (the script adds its
           deliveries - 1: the reads and starts before, not this turn, which runs nothing)
  ARGV[8]  result (succeeded; '' for none) or last error (dead)
  ARGV[9]  dead-letter reason (handler | attempts | malformed | hung; '' when succeeded)
  ARGV[10] dead-letter stream cap (approximate MAXLEN, 0: none)
  ARGV[11] status TTL in seconds (0: no expiry)
  ARGV[12] completion channel ('' to skip)
  ARGV[13] track status '1'/'0'
  ARGV[14] 'P' to PUBLISH, 'S' to SPUBLISH
  ARGV[15] the bucket's start (ms: its second × 1000)
  ARGV[16] the success record of the event (`<token>[:<attempts>];`, §5.2), written for a
           success without a result when status is tracked; '' to write the status hash instead.
           For 'skipped': `<token>;`, written as the skip record `~<token>[:<attempts>];`
  ARGV[17] with KEYS[8]: the entry's key mark, 's=<key>' (topic stream) or 'r=<key>' (redelivery)
           A dead letter blocks its key (HSET key → its dead-letter id); the success (or loss) of
           the replay that holds the block ('replay:<this entry id>') clears it.

  Reply: { 'fenced' } | { 'stale' } (not pending to this consumer) | { 'lost' }
       | { 'succeeded' } | { 'dead', dead-letter entry id } | { 'skipped' }
       | { 'blocked', what blocks its key } (outcome 'skipped' only, with KEYS[8]: nothing written)
]]
local lease, stream, backoff, statusKey, waiters, dlq, bucket = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local group, consumer, token, entryId, eventId = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local outcome, text, reason, channel = ARGV[6], ARGV[8], ARGV[9], ARGV[12]
-- @include checkArgs
-- @include checkLease
-- @include ownedDeliveries
-- @include serverNowMs
-- @include writeStatus
-- @include entryFields
-- @include deadLetters
needCount('token', token)
needId('entry id', entryId)
needId('event id', eventId)
needOneOf('outcome', outcome, 'succeeded', 'dead', 'skipped')
local attempts = tostring(needCount('attempts', ARGV[7]))
if text == nil then argError('result', text) end
local cap = needCount('cap', ARGV[10])
local ttl = needCount('ttl', ARGV[11])
local track = needOneOf('track', ARGV[13], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[14], 'P', 'S')
if #KEYS ~= 7 and #KEYS ~= 8 then argError('keys', #KEYS) end
local bucketStart = needCount('bucket start', ARGV[15])
local record = ARGV[16]
if record == nil or (record ~= '' and not string.match(record, '^[0-9a-z]+%-?[0-9]*:?[0-9]*;$')) then argError('record', record) end
local blocked, heldKey, kind = KEYS[8], nil, nil
if blocked ~= nil then
  kind, heldKey = string.match(ARGV[17] or '', '^([sr])=(.*)$')
  if kind == nil then argError('key mark', ARGV[17]) end
  needType(blocked, 'hash')
end
if outcome == 'dead' then needReason(reason) end
needType(backoff, 'zset')
needType(statusKey, 'hash')
needType(dlq, 'stream')
needType(bucket, 'string')
if not leaseHeld(lease, token) then return { 'fenced' } end
local deliveries = ownedDeliveries(stream, group, consumer, entryId)
if deliveries == nil then return { 'stale' } end
if outcome == 'skipped' then
  attempts = tostring(tonumber(attempts) + deliveries - 1)
  -- afterDeadLetter 'hold': a key parked behind a dead letter keeps its events, stale or not,
  -- until the block is gone (as startOrdered refuses to start them): nothing written.
  if blocked ~= nil then
    local holder = redis.call('HGET', blocked, heldKey)
    if holder and not (kind == 'r' and holder == 'replay:' .. entryId) then return { 'blocked', holder } end
  end
end

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
  if track and text == '' and record ~= '' then
    -- A plain success: its record after a time marker (when it finished), as ackBatch appends
    -- them. The bucket's TTL is set when it has none or less than a status window left, so the
    -- record lives at least `ttl` seconds. The `processing` startOrdered wrote (and what a
    -- failed attempt left) goes from the hash, but the last error, which readers keep beside
    -- the record (§5.3): without other groups' fields the hash is gone, as for unordered groups.
    redis.call('APPEND', bucket, '@' .. (tonumber(now) - bucketStart) .. ';' .. record)
    if ttl > 0 and redis.call('TTL', bucket) < ttl then redis.call('EXPIRE', bucket, ttl + 1) end
    redis.call('HDEL', statusKey, group .. ':state', group .. ':attempts', group .. ':consumer', group .. ':updatedAt',
      group .. ':nextAttemptAt', group .. ':finishedAt', group .. ':deadLetterId', group .. ':result')
  elseif track then
    redis.call('HDEL', statusKey, group .. ':nextAttemptAt', group .. ':error')
    local f = { 'state', 'succeeded', 'attempts', attempts, 'consumer', consumer, 'updatedAt', now }
    if text ~= '' then f[#f + 1] = 'result'; f[#f + 1] = text end
    writeStatus(statusKey, group, ttl, f)
  end
  unblockIfReplay()
  notify('succeeded')
  return { 'succeeded' }
end
if outcome == 'skipped' then
  -- Stale when its turn came: nothing ran. With a record (ARGV[16], `<token>;`), a skip record
  -- in the bucket, `~<token>[:<attempts>];` (attempts when more than 0), as skipEntries writes
  -- them, and the hash's fields go but the last error, as for a plain success; else the hash.
  if track and record ~= '' then
    local tok = string.match(record, '^([0-9a-z]+%-?[0-9]*)')
    redis.call('APPEND', bucket, '@' .. (tonumber(now) - bucketStart) .. ';~' .. tok .. (attempts ~= '0' and (':' .. attempts) or '') .. ';')
    if ttl > 0 and redis.call('TTL', bucket) < ttl then redis.call('EXPIRE', bucket, ttl + 1) end
    redis.call('HDEL', statusKey, group .. ':state', group .. ':attempts', group .. ':consumer', group .. ':updatedAt',
      group .. ':nextAttemptAt', group .. ':finishedAt', group .. ':deadLetterId', group .. ':result')
  elseif track then
    redis.call('HDEL', statusKey, group .. ':nextAttemptAt', group .. ':deadLetterId', group .. ':result')
    writeStatus(statusKey, group, ttl, {
      'state', 'skipped', 'attempts', attempts, 'consumer', consumer, 'updatedAt', now, 'finishedAt', now,
    })
  end
  unblockIfReplay()
  notify('skipped')
  return { 'skipped' }
end
local dlqId = addDeadLetter(dlq, cap, eventId, entryId, fields, flat, attempts, text, reason, consumer, now)
if track then
  redis.call('HDEL', statusKey, group .. ':nextAttemptAt')
  writeDead(statusKey, group, ttl, attempts, text, consumer, now, dlqId)
end
if blocked ~= nil then redis.call('HSET', blocked, heldKey, dlqId) end
notify('dead')
return { 'dead', dlqId }
