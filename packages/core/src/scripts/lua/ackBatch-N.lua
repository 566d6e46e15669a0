--[[
  Acknowledge a batch of entries that succeeded, and record their status, in one step
  (protocol version 2, docs/PROTOCOL.md §5 and §6.2). Refuses any entry this consumer no
  longer owns (it was reclaimed by another consumer).

  Two kinds of entries:
  - plain successes (no result): acknowledged, and recorded as short records appended to the
    group's success bucket of their event's second (`T:ok:<group>:<second>`, a string). The
    records are built by the caller; the script prepends one time marker per bucket and call.
    The script does no per-entry work for them beyond the ownership check: the caller passes
    the batch's lowest and highest entry id, the ids, and the deliveries it expects where they
    are not 1. When any of them is not this consumer's, or its deliveries differ, the script
    writes nothing and replies which (the caller moves them to the second kind, or rebuilds
    their records, and calls again).
  - hash entries (a success with a result, or a plain one the caller wants checked one by
    one): acknowledged and recorded in the event's status hash as in version 1, with the
    refusal, resend and lost checks of version 1.

  KEYS[1]               source stream (the topic stream or the group's redelivery stream)
  KEYS[2]               waiters key: the completion notice is published only while it exists
  KEYS[3 .. 2+nb]       success bucket of each bucket of records (nb of them)
  KEYS[3+nb ..]         status hash of each hash entry's event, in their order (nh of them)

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  status TTL in seconds (0: no expiry)
  ARGV[4]  completion channel ('' to skip the notice)
  ARGV[5]  track status: '1' or '0' ('0': no records, no hash writes but `lost`)
  ARGV[6]  'P' to PUBLISH, 'S' to SPUBLISH (Cluster) the completion notice
  ARGV[7]  nb: buckets of records
  ARGV[8]  nh: hash entries
  ARGV[9]  np: plain entries
  ARGV[10] nx: entries whose expected deliveries are not 1 (plain ones: checked against the
           pending list; hash ones: their deliveries when the orphaned path below records them)
  ARGV[11] lowest entry id of the batch (plain and hash entries; '-' when empty)
  ARGV[12] highest entry id of the batch ('+' when empty)
  ARGV[13] '1' when each plain entry's event id is its entry id (topic stream), '0' when the
           event ids follow the entry ids (redelivery stream)
  then nb × 2 values: bucket start (ms, the bucket's second × 1000), records of that bucket
  then np entry ids of the plain entries (then np event ids, when ARGV[13] is '0')
  then nx × 2 values: entry id, deliveries expected
  then nh × 4 values: entry id, event id, base attempts, result ('' for none)

  Record format (docs/PROTOCOL.md §5.2): `<ms within the second, base 36>[-<seq>][:<attempts>];`
  for seq > 0 and attempts > 1; the script writes `@<ms after the bucket start>;` before the
  records of one call, which is when they finished.

  Reply: { acked count, status writes that failed (the key holds another type), refused entry ids... }
     or: { -1, n, n plain entry ids not this consumer's..., then pairs of plain entry id and its
           actual deliveries } when some plain entry failed the check: nothing was written.
]]
local stream, waiters = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
local channel = ARGV[4]
-- @include ownedDeliveries
-- @include serverNowMs
-- @include checkArgs
-- @include orphaned

local ttl = needCount('ttl', ARGV[3])
local track = needOneOf('track', ARGV[5], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[6], 'P', 'S')
local nb, nh = needCount('buckets', ARGV[7]), needCount('hash entries', ARGV[8])
local np, nx = needCount('plain entries', ARGV[9]), needCount('expected deliveries', ARGV[10])
local minId, maxId = ARGV[11], ARGV[12]
local sameIds = needOneOf('same ids', ARGV[13], '1', '0') == '1'
local bucketAt = 14
local plainAt = bucketAt + 2 * nb
local eventsAt = plainAt + np
local expectAt = sameIds and eventsAt or eventsAt + np
local hashAt = expectAt + 2 * nx
if #ARGV ~= hashAt + 4 * nh - 1 or #KEYS ~= 2 + nb + nh then
  argError('entries', 'counts do not match the arguments and keys')
end
if np + nh > 0 then needId('lowest id', minId); needId('highest id', maxId) end
for b = 0, nb - 1 do needCount('bucket start', ARGV[bucketAt + 2 * b]) end
for i = hashAt, #ARGV, 4 do
  needId('entryId', ARGV[i]); needId('eventId', ARGV[i + 1]); needCount('base', ARGV[i + 2])
end
if not sameIds then for i = eventsAt, eventsAt + np - 1 do needId('eventId', ARGV[i]) end end

-- Ownership and delivery counts for the whole batch from one XPENDING over the batch's id
-- range, filtered to this consumer. The range may also hold this consumer's other entries
-- (handlers still running): the limit leaves room for them, and when the reply fills the
-- limit, entries not in it are checked one by one.
local owned = {}
local complete = true
if np + nh > 0 then
  local limit = np + nh + 1000
  local rows = redis.call('XPENDING', stream, group, minId, maxId, limit, consumer)
  for _, row in ipairs(rows) do owned[row[1]] = row[4] end
  complete = #rows < limit
end
local function deliveriesOf(id)
  local d = owned[id]
  if d == nil and not complete then d = ownedDeliveries(stream, group, consumer, id) end
  return d
end

-- Plain entries: all must be this consumer's, with the deliveries their records assume.
local expect = {}
for i = expectAt, hashAt - 1, 2 do expect[ARGV[i]] = tonumber(ARGV[i + 1]) end
local notOwned, changed = {}, {}
for i = plainAt, plainAt + np - 1 do
  local id = ARGV[i]
  local d = deliveriesOf(id)
  if d == nil then
    notOwned[#notOwned + 1] = id
  elseif d ~= (expect[id] or 1) then
    changed[#changed + 1] = id
    changed[#changed + 1] = d
  end
end
if #notOwned > 0 or #changed > 0 then
  local reply = { -1, #notOwned }
  for _, id in ipairs(notOwned) do reply[#reply + 1] = id end
  for _, v in ipairs(changed) do reply[#reply + 1] = v end
  return reply
end

-- Hash entries, one by one (version 1's path).
local fState, fAttempts, fResult = group .. ':state', group .. ':attempts', group .. ':result'
local fConsumer, fUpdated = group .. ':consumer', group .. ':updatedAt'
local refused = {}
local already = 0
local acked = {}
local done = {}
local writes = {}
local n = 0
for i = hashAt, #ARGV, 4 do
  n = n + 1
  local key = KEYS[2 + nb + n]
  local entryId, eventId = ARGV[i], ARGV[i + 1]
  local base, result = tonumber(ARGV[i + 2]), ARGV[i + 3]
  local deliveries = deliveriesOf(entryId)
  if deliveries == nil then
    -- Not pending for this consumer. If its status already says this consumer succeeded, this
    -- is a resend of a batch that ran before (ioredis resends a command whose reply was lost to
    -- a reconnect): already settled, not refused.
    local st = track and redis.pcall('HMGET', key, fState, fConsumer, fAttempts) or {}
    local attempt = base + (expect[entryId] or 1)
    if (st[1] == 'succeeded' and st[2] == consumer) or (st[1] == 'lost' and (st[2] == false or st[2] == consumer)) then
      -- Done before, or trimmed while it ran (the trim acknowledged it and recorded it lost,
      -- once): settled either way, not refused by another consumer.
      already = already + 1
    elseif st[1] == 'succeeded' or st[1] == 'dead' or st[1] == 'skipped' or st[1] == 'lost'
        or (st[1] == 'failed' and st[2] ~= consumer and (tonumber(st[3]) or 0) >= attempt) then
      -- Another consumer finished it (it reclaimed the entry while this one stalled), held it when
      -- a trim removed it (lost, naming that consumer), or a later attempt failed and its retry
      -- is scheduled: refused, also when the group was recreated since (the new group has no
      -- pending record that would refuse it).
      refused[#refused + 1] = entryId
    elseif orphaned(stream, group, consumer, entryId) then
      -- The group was recreated while this ran: nothing to acknowledge, but the outcome counts,
      -- with the attempt number of this delivery (its deliveries as the caller knows them).
      done[#done + 1] = eventId
      writes[#writes + 1] = { key, tostring(attempt), result }
      already = already + 1
    else
      refused[#refused + 1] = entryId
    end
  else
    acked[#acked + 1] = entryId
    done[#done + 1] = eventId
    writes[#writes + 1] = { key, tostring(base + deliveries), result }
  end
end

-- XACK first: at maxmemory (noeviction) Redis refuses a script's first write if it may
-- grow memory (APPEND, HSET), but not XACK, and allows the writes that follow it. So
-- consumers keep acknowledging, and recording status, while publishes are refused.
for i = plainAt, plainAt + np - 1, 1000 do
  redis.call('XACK', stream, group, unpack(ARGV, i, math.min(i + 999, plainAt + np - 1)))
end
for i = 1, #acked, 1000 do
  redis.call('XACK', stream, group, unpack(acked, i, math.min(i + 999, #acked)))
end

local failedWrites = 0
if track and (nb > 0 or #writes > 0) then
  local now = serverNowMs()
  -- Success buckets: one APPEND per bucket. The TTL is set when the key has none, or when it
  -- would expire less than a status window from now (records appended late to an old bucket):
  -- every record lives at least `ttl` seconds after it was written, and a bucket of the usual
  -- kind gets one EXPIRE in its life.
  for b = 0, nb - 1 do
    local key = KEYS[3 + b]
    local start = tonumber(ARGV[bucketAt + 2 * b])
    local r = redis.pcall('APPEND', key, '@' .. (now - start) .. ';' .. ARGV[bucketAt + 2 * b + 1])
    if type(r) == 'table' and r.err then
      failedWrites = failedWrites + 1
    elseif ttl > 0 and redis.call('TTL', key) < ttl then
      redis.call('EXPIRE', key, ttl + 1)
    end
  end
  -- Status writes after the XACK use pcall: a status key holding another type (written by
  -- someone else) must not raise after the XACK and skip the other entries' writes.
  local nowText = tostring(now)
  for _, w in ipairs(writes) do
    local key, attempts, result = w[1], w[2], w[3]
    local r
    if result ~= '' then
      r = redis.pcall('HSET', key, fState, 'succeeded', fAttempts, attempts, fResult, result,
        fConsumer, consumer, fUpdated, nowText)
    else
      r = redis.pcall('HSET', key, fState, 'succeeded', fAttempts, attempts,
        fConsumer, consumer, fUpdated, nowText)
    end
    if type(r) == 'table' and r.err then
      failedWrites = failedWrites + 1
    elseif ttl > 0 then
      redis.call('EXPIRE', key, ttl)
    end
  end
end
-- Notify waitFor only while one listens (it keeps the waiters key alive meanwhile).
if np + #done > 0 and channel ~= '' and redis.call('EXISTS', waiters) == 1 then
  local ids = {}
  local from = sameIds and plainAt or eventsAt
  for i = from, from + np - 1 do ids[#ids + 1] = ARGV[i] end
  for _, id in ipairs(done) do ids[#ids + 1] = id end
  redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'succeeded|' .. group .. '|' .. table.concat(ids, ','))
end
local reply = { np + #acked + already, failedWrites }
for _, id in ipairs(refused) do reply[#reply + 1] = id end
return reply
