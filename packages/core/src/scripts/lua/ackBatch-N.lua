--[[
  Acknowledge a batch of entries that succeeded, and record their status, in one step.
  Refuses any entry this consumer no longer owns (it was reclaimed by another consumer).

  KEYS[1]      source stream (the topic stream or the group's redelivery stream)
  KEYS[2]      waiters key: the completion notice is published only while it exists
  KEYS[3..n]   status hash of each entry's event, in the order of the entries

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  status TTL in seconds (0: no expiry)
  ARGV[4]  completion channel ('' to skip the notice)
  ARGV[5]  track status: '1' or '0'
  ARGV[6]  'P' to PUBLISH, 'S' to SPUBLISH (Cluster) the completion notice
  then per entry, 4 values: entryId, eventId, base attempts, result ('' for none)

  Reply: { acked count, status writes that failed (the key holds another type), refused entry ids... }
]]
local stream, waiters = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
local channel = ARGV[4]
-- @include ownedDeliveries
-- @include serverNowMs
-- @include callChunked
-- @include checkArgs
-- @include orphaned

local ttl = needCount('ttl', ARGV[3])
local track = needOneOf('track', ARGV[5], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[6], 'P', 'S')
local first = 7
if (#ARGV - first + 1) % 4 ~= 0 or #KEYS ~= 2 + (#ARGV - first + 1) / 4 then
  argError('entries', 'need 4 values and one status key per entry')
end
-- Entry ids are checked by the range loop below; event ids and base attempts here.
for i = first, #ARGV, 4 do
  if not string.match(ARGV[i + 1], '^%d+%-%d+$') then argError('eventId', ARGV[i + 1]) end
  if not string.match(ARGV[i + 2], '^%d+$') then argError('base', ARGV[i + 2]) end
end

local now = tostring(serverNowMs())
local count = (#ARGV - first + 1) / 4

-- Ownership and delivery counts for the whole batch from one XPENDING over the batch's id
-- range, filtered to this consumer, instead of one XPENDING per entry (the per-entry calls
-- were the largest part of the script's cost). The range may also hold this consumer's
-- other entries (handlers still running): the limit leaves room for them, and when the
-- reply fills the limit, entries not in it are checked one by one.
local minMs, minSeq, minId, maxMs, maxSeq, maxId
for i = first, #ARGV, 4 do
  local id = ARGV[i]
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if ms == nil then argError('entryId', id) end
  ms, seq = tonumber(ms), tonumber(seq)
  if minMs == nil or ms < minMs or (ms == minMs and seq < minSeq) then minMs, minSeq, minId = ms, seq, id end
  if maxMs == nil or ms > maxMs or (ms == maxMs and seq > maxSeq) then maxMs, maxSeq, maxId = ms, seq, id end
end
local owned = {}
local complete = false
if minId ~= nil then
  local limit = count + 1000
  local rows = redis.call('XPENDING', stream, group, minId, maxId, limit, consumer)
  for _, row in ipairs(rows) do owned[row[1]] = tonumber(row[4]) end
  complete = #rows < limit
end

-- Status field names, built once per batch.
local fState, fAttempts, fResult = group .. ':state', group .. ':attempts', group .. ':result'
-- No finishedAt on success: it equals updatedAt (readers fill it in), one field less per delivery.
local fConsumer, fUpdated = group .. ':consumer', group .. ':updatedAt'

local refused = {}
local already = 0
local acked = {}
local done = {}
local writes = {}
local n = 0
for i = first, #ARGV, 4 do
  n = n + 1
  local entryId, eventId = ARGV[i], ARGV[i + 1]
  local base, result = tonumber(ARGV[i + 2]), ARGV[i + 3]
  local deliveries = owned[entryId]
  if deliveries == nil and not complete then deliveries = ownedDeliveries(stream, group, consumer, entryId) end
  if deliveries == nil then
    -- Not pending for this consumer. If its status already says this consumer succeeded, this
    -- is a resend of a batch that ran before (ioredis resends a command whose reply was lost to
    -- a reconnect): already settled, not refused.
    local st = track and redis.pcall('HMGET', KEYS[n + 2], fState, fConsumer) or {}
    if (st[1] == 'succeeded' and st[2] == consumer) or st[1] == 'lost' then
      -- Done before, or trimmed while it ran (the trim acknowledged it and recorded it lost,
      -- once): settled either way, not refused by another consumer.
      already = already + 1
    elseif orphaned(stream, group, consumer, entryId) then
      -- The group was recreated while this ran: nothing to acknowledge, but the outcome counts.
      done[#done + 1] = eventId
      writes[#writes + 1] = { KEYS[n + 2], tostring(base + 1), result }
      already = already + 1
    else
      refused[#refused + 1] = entryId
    end
  else
    acked[#acked + 1] = entryId
    done[#done + 1] = eventId
    writes[#writes + 1] = { KEYS[n + 2], tostring(base + deliveries), result }
  end
end
-- XACK first: at maxmemory (noeviction) Redis refuses a script's first write if it may
-- grow memory (HSET), but not XACK, and allows the writes that follow it. So consumers
-- keep acknowledging, and recording status, while publishes are refused.
if #acked > 0 then callChunked({ 'XACK', stream, group }, acked) end
-- Status writes after the XACK use pcall: a status key holding another type (written by
-- someone else) must not raise after the XACK and skip the other entries' writes; failures
-- are counted in the reply instead (checking TYPE per entry first cost Redis CPU on every ack).
local failedWrites = 0
if track then
  for _, w in ipairs(writes) do
    local key, attempts, result = w[1], w[2], w[3]
    local r
    if result ~= '' then
      r = redis.pcall('HSET', key, fState, 'succeeded', fAttempts, attempts, fResult, result,
        fConsumer, consumer, fUpdated, now)
    else
      r = redis.pcall('HSET', key, fState, 'succeeded', fAttempts, attempts,
        fConsumer, consumer, fUpdated, now)
    end
    if type(r) == 'table' and r.err then
      failedWrites = failedWrites + 1
    elseif ttl > 0 then
      redis.call('EXPIRE', key, ttl)
    end
  end
end
-- Notify waitFor only while one listens (it keeps the waiters key alive meanwhile).
if #acked > 0 and channel ~= '' and redis.call('EXISTS', waiters) == 1 then
  redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'succeeded|' .. group .. '|' .. table.concat(done, ','))
end
local reply = { #acked + already, failedWrites }
for _, id in ipairs(refused) do reply[#reply + 1] = id end
return reply
