--[[
  Skip entries that went stale before their handler ran (subscribe option `skipOlderThanMs`,
  docs/PROTOCOL.md §6.10): acknowledge them without running anything and record `skipped`, a
  final state, in one step. Only entries still pending to this consumer are skipped; the
  others are refused (another consumer reclaimed them, or they were settled meanwhile).
  The caller decides which entries are stale (their event's age); the script does not judge age.

  KEYS[1]     source stream (the topic stream or the group's redelivery stream)
  KEYS[2]     waiters key: the completion notice is published only while it exists
  KEYS[3..n]  status hash of each entry's event, in the entries' order

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  status TTL in seconds (0: no expiry)
  ARGV[4]  completion channel ('' to skip the notice)
  ARGV[5]  track status '1'/'0' ('0': acknowledged, nothing written)
  ARGV[6]  'P' to PUBLISH, 'S' to SPUBLISH
  then per entry, 3 values: entry id, event id (for a copy: its `orig`), base attempts

  Status of a skipped event in the group: state `skipped`, attempts = base + deliveries - 1
  (the handler runs made before; the skipped delivery runs none), consumer, updatedAt,
  finishedAt; `nextAttemptAt`, `deadLetterId` and `result` of earlier attempts are removed, the
  last error is kept. Notice: `skipped|<group>|<eventId,...>`.

  Reply: { skipped entry ids, refused entry ids }. A resend of a call that ran (its reply lost to
  a reconnect) finds its entries skipped by this consumer and counts them skipped again.
]]
local stream, waiters = KEYS[1], KEYS[2]
local group, consumer, channel = ARGV[1], ARGV[2], ARGV[4]
-- @include ownedDeliveries
-- @include writeStatus
-- @include serverNowMs
-- @include callChunked
-- @include checkArgs
-- @include orphaned

-- Every check before the first write.
local ttl = needCount('ttl', ARGV[3])
local track = needOneOf('track', ARGV[5], '1', '0') == '1'
local mode = needOneOf('publish mode', ARGV[6], 'P', 'S')
local first = 7
local n = (#ARGV - first + 1) / 3
if n < 1 or n ~= math.floor(n) or #KEYS ~= 2 + n then
  argError('entries', 'need an entry id, an event id, base attempts and one status key per entry')
end
for i = first, #ARGV, 3 do
  needId('entry id', ARGV[i]); needId('event id', ARGV[i + 1]); needCount('base', ARGV[i + 2])
end
if track then for k = 3, #KEYS do needType(KEYS[k], 'hash') end end

local fState, fConsumer = group .. ':state', group .. ':consumer'
local skip, refused, again = {}, {}, {}
local k = 0
for i = first, #ARGV, 3 do
  k = k + 1
  local entryId = ARGV[i]
  local d = ownedDeliveries(stream, group, consumer, entryId)
  if d ~= nil then
    skip[#skip + 1] = { k, entryId, ARGV[i + 1], tonumber(ARGV[i + 2]) + d - 1 }
  else
    local st = track and redis.call('HMGET', KEYS[2 + k], fState, fConsumer) or {}
    if st[1] == 'skipped' and st[2] == consumer then
      again[#again + 1] = entryId -- a resend: skipped by this call's first run
    elseif orphaned(stream, group, consumer, entryId) then
      -- The group was recreated while this consumer held it: nothing to acknowledge, the skip counts.
      skip[#skip + 1] = { k, entryId, ARGV[i + 1], tonumber(ARGV[i + 2]), true }
    else
      refused[#refused + 1] = entryId
    end
  end
end

-- XACK first: at maxmemory Redis refuses a script's first write if it may grow memory.
local ack = {}
for _, s in ipairs(skip) do if not s[5] then ack[#ack + 1] = s[2] end end
if #ack > 0 then callChunked({ 'XACK', stream, group }, ack) end
local now = tostring(serverNowMs())
local ids, events = {}, {}
for _, s in ipairs(skip) do
  ids[#ids + 1] = s[2]
  events[#events + 1] = s[3]
  if track then
    local key = KEYS[2 + s[1]]
    redis.call('HDEL', key, group .. ':nextAttemptAt', group .. ':deadLetterId', group .. ':result')
    writeStatus(key, group, ttl, {
      'state', 'skipped', 'attempts', tostring(s[4]), 'consumer', consumer, 'updatedAt', now, 'finishedAt', now,
    })
  end
end
for _, id in ipairs(again) do ids[#ids + 1] = id end
if #events > 0 and channel ~= '' and redis.call('EXISTS', waiters) == 1 then
  redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'skipped|' .. group .. '|' .. table.concat(events, ','))
end
return { ids, refused }
