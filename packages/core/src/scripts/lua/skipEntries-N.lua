--[[
  Skip entries that went stale before their handler ran (subscribe option `skipOlderThanMs`,
  docs/PROTOCOL.md §6.10): acknowledge them without running anything and record `skipped`, a
  final state, in one step. Only entries still pending to this consumer are skipped; the
  others are refused (another consumer reclaimed them, or they were settled meanwhile).
  The caller decides which entries are stale (their event's age); the script does not judge age.

  A skip is recorded like a plain success (protocol 2, §5.2): a short record appended to the
  group's success bucket of the event's second, `~<token>[:<attempts>];` after one time marker
  per bucket and call. No status hash is created; one that already names the group (an earlier
  attempt's `failed`, a replay's `pending`) gets its state `skipped` (attempts, updatedAt,
  finishedAt; nextAttemptAt and consumer removed; the last error stays), so the old state does
  not come back once the bucket expired while another group kept the shared hash alive.

  KEYS[1]          source stream (the topic stream or the group's redelivery stream)
  KEYS[2]          waiters key: the completion notice is published only while it exists
  KEYS[3..2+nb]    success buckets (`T:ok:<group>:<second>`) of the entries' events
  KEYS[3+nb..]     per entry, its event's status hash (`T:status:<eventId>`): read only, on the
                   refusal path (an entry no longer pending to this consumer)

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  status TTL in seconds (0: no expiry)
  ARGV[4]  completion channel ('' to skip the notice)
  ARGV[5]  track status '1'/'0' ('0': acknowledged, no record)
  ARGV[6]  'P' to PUBLISH, 'S' to SPUBLISH
  ARGV[7]  nb: buckets
  then nb values: each bucket's start (ms: its second × 1000)
  then per entry, 6 values: entry id, event id (for a copy: its `orig`), base attempts, its
  bucket's number (1..nb), the event id's token in that bucket (`<ms in the second, base 36>[-<seq>]`),
  and the deliveries the caller was handed it with (its pending count when it was read or reclaimed)

  Record: attempts = base + deliveries - 1 (the handler runs made before; the skipped delivery
  runs none; deliveries as the caller was handed it), written only when more than 0. Notice: `skipped|<group>|<eventId,...>`.

  Reply: { skipped entry ids, refused entry ids }. A resend of a call that ran (its reply lost to
  a reconnect) finds the entry settled and its own skip record in the bucket, with the attempts
  this delivery gives (base + the caller's deliveries - 1): counted skipped again. A record with
  other attempts is another consumer's (it reclaimed the entry, a delivery more, and skipped it):
  refused, so one skip is counted once. An entry whose bucket holds another record of its event
  (another consumer's skip or success), or whose status hash says another consumer finished it
  (succeeded, dead, lost) or a later attempt failed, is refused before the orphaned path: a group
  recreated behind this consumer's back delivered it again and someone else settled it.
]]
local stream, waiters = KEYS[1], KEYS[2]
local group, consumer, channel = ARGV[1], ARGV[2], ARGV[4]
-- @include ownedDeliveries
-- @include serverNowMs
-- @include callChunked
-- @include checkArgs
-- @include orphaned

-- Every check before the first write.
local ttl = needCount('ttl', ARGV[3])
local track = needOneOf('track', ARGV[5], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[6], 'P', 'S')
local nb = needCount('buckets', ARGV[7])
local first = 8 + nb
local n = (#ARGV - first + 1) / 6
if nb < 1 or #KEYS ~= 2 + nb + n or n < 1 or n ~= math.floor(n) then
  argError('entries', 'need buckets, and per entry an entry id, an event id, base attempts, a bucket number, a token and deliveries')
end
for b = 1, nb do needCount('bucket start', ARGV[7 + b]); needType(KEYS[2 + b], 'string') end
for i = first, #ARGV, 6 do
  needId('entry id', ARGV[i]); needId('event id', ARGV[i + 1]); needCount('base', ARGV[i + 2])
  if needCount('deliveries', ARGV[i + 5]) < 1 then argError('deliveries', ARGV[i + 5]) end
  local b = needCount('bucket', ARGV[i + 3])
  if b < 1 or b > nb then argError('bucket', ARGV[i + 3]) end
  local t = ARGV[i + 4]
  if type(t) ~= 'string' or not (string.match(t, '^[0-9a-z]+$') or string.match(t, '^[0-9a-z]+%-%d+$')) then argError('token', t) end
end

-- The records of `token` in bucket key `key`: 'own' when a skip record with `attempts` is there
-- (a resend's proof: this delivery's skip), 'other' when only other records are (another
-- consumer's skip, after a reclaim counted a delivery more, or a success), else nil.
local function recorded(key, token, attempts)
  local ok, s = pcall(redis.call, 'GET', key)
  if not ok or type(s) ~= 'string' then return nil end
  local own = '~' .. token .. (attempts > 0 and (':' .. attempts) or '') .. ';'
  local found = nil
  local from = 1
  while true do
    local i, j = string.find(s, ';' .. token, from, true)
    local k, l = string.find(s, ';~' .. token, from, true)
    if k ~= nil and (i == nil or k < i) then i, j = k, l end
    if i == nil then return found end
    local c = string.sub(s, j + 1, j + 1)
    if c == ';' or c == ':' then
      if string.sub(s, i + 1, i + #own) == own then return 'own' end
      found = 'other'
    end
    from = j + 1
  end
end

-- The status hash says the entry was settled by someone else: a final state, or a failure of an
-- attempt later than this delivery's (its retry scheduled).
local fState, fAttempts = group .. ':state', group .. ':attempts'
local function settledElsewhere(key, attempts)
  local st = redis.pcall('HMGET', key, fState, fAttempts)
  if type(st) ~= 'table' then return false end
  return st[1] == 'succeeded' or st[1] == 'dead' or st[1] == 'lost' or st[1] == 'skipped'
    or (st[1] == 'failed' and (tonumber(st[2]) or 0) > attempts)
end

-- The group is gone (XGROUP DESTROY, or the stream deleted) and not yet recreated: no other
-- consumer can have handled these entries since, and the group that comes back resumes after
-- what its consumers read: as for orphans, the skip counts, with nothing to acknowledge (else
-- the stale events of this call would be neither skipped nor run, their status unknown).
local groupGone = false
do
  local ok, err = pcall(redis.call, 'XPENDING', stream, group)
  if not ok then
    if string.find(tostring(err.err or err), 'NOGROUP', 1, true) then groupGone = true else error(err) end
  end
end

local skip, refused, again = {}, {}, {}
local e = 0
for i = first, #ARGV, 6 do
  e = e + 1
  local entryId, bucket, token = ARGV[i], tonumber(ARGV[i + 3]), ARGV[i + 4]
  local mine = tonumber(ARGV[i + 2]) + tonumber(ARGV[i + 5]) - 1
  local d = nil
  if not groupGone then d = ownedDeliveries(stream, group, consumer, entryId) end
  local rec = d == nil and track and recorded(KEYS[2 + bucket], token, mine) or nil
  if d ~= nil then
    skip[#skip + 1] = { entryId, ARGV[i + 1], mine, bucket, token, false, e }
  elseif rec == 'own' then
    again[#again + 1] = entryId -- a resend: skipped by this call's first run
  elseif rec == 'other' or (track and settledElsewhere(KEYS[2 + nb + e], mine)) then
    refused[#refused + 1] = entryId -- settled by another consumer (also in a recreated group)
  elseif groupGone or orphaned(stream, group, consumer, entryId) then
    -- The group was recreated while this consumer held it: nothing to acknowledge, the skip counts.
    skip[#skip + 1] = { entryId, ARGV[i + 1], mine, bucket, token, true, e }
  else
    refused[#refused + 1] = entryId
  end
end

-- XACK first: at maxmemory Redis refuses a script's first write if it may grow memory.
local ack = {}
for _, s in ipairs(skip) do if not s[6] then ack[#ack + 1] = s[1] end end
if #ack > 0 then callChunked({ 'XACK', stream, group }, ack) end
local ids, events = {}, {}
local records = {}
for _, s in ipairs(skip) do
  ids[#ids + 1] = s[1]
  events[#events + 1] = s[2]
  local list = records[s[4]]
  if list == nil then list = {}; records[s[4]] = list end
  list[#list + 1] = '~' .. s[5] .. (s[3] > 0 and (':' .. s[3]) or '') .. ';'
end
if track and #skip > 0 then
  local now = serverNowMs()
  for b = 1, nb do
    local list = records[b]
    if list ~= nil then
      local key = KEYS[2 + b]
      redis.call('APPEND', key, '@' .. (now - tonumber(ARGV[7 + b])) .. ';' .. table.concat(list))
      if ttl > 0 and redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl + 1) end
    end
  end
  -- An event whose status hash already names this group (an earlier attempt's `failed`, a
  -- replay's `pending`): its state there becomes `skipped` too. The hash is shared by every group
  -- and lives as long as any of them writes to it; once the skip record's bucket expired, the
  -- old `failed` would come back, a retry that never comes. No hash is created for the others.
  local fConsumer, fNext, fUpdated, fFinished = group .. ':consumer', group .. ':nextAttemptAt', group .. ':updatedAt', group .. ':finishedAt'
  for _, s in ipairs(skip) do
    local key = KEYS[2 + nb + s[7]]
    local st = redis.pcall('HGET', key, fState)
    if type(st) == 'string' then
      redis.call('HSET', key, fState, 'skipped', fAttempts, tostring(s[3]), fUpdated, tostring(now), fFinished, tostring(now))
      redis.call('HDEL', key, fNext, fConsumer)
    end
  end
end
for _, id in ipairs(again) do ids[#ids + 1] = id end
if #events > 0 and channel ~= '' and redis.call('EXISTS', waiters) == 1 then
  redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'skipped|' .. group .. '|' .. table.concat(events, ','))
end
return { ids, refused }
