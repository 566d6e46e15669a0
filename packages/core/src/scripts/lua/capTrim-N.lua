--[[
  One bounded step of a hard length cap: remove the oldest entries of a stream (the ids the
  caller just read with XRANGE - + COUNT n, n ≤ 1000) and record each as `lost` in every
  group that had not acknowledged it: pending there (read, not acked) or not yet read (after
  the group's last-delivered id). Each (event, group) is recorded once: a status already
  `lost` is left alone. Pending records of removed entries are acknowledged, so no consumer
  meets them again (XAUTOCLAIM's deleted ids) and a handler still running on one cannot
  settle it afterwards (its ack is refused: it no longer owns the entry).

  Work per call: O(ids × groups), never proportional to the stream's or a PEL's length.

  KEYS[1]      stream
  KEYS[2]      waiters key (completions are published only while it exists)
  KEYS[3..n]   status hash of each id, in order

  ARGV[1]  cap (most entries to keep, ≥ 1)
  ARGV[2]  completion channel
  ARGV[3]  status TTL in seconds (0: no expiry)
  ARGV[4]  reason written to the status `error` field
  ARGV[5]  'P' to PUBLISH completions, 'S' to SPUBLISH (sharded, on a Cluster that has it)
  ARGV[6..] the ids, oldest first, as read by the caller

  Reply: { 1, removed, { lost ids (lost to at least one group) }, { group, newly lost, ... } }
         or { 0 } when the stream changed since the caller read the ids (read again)
]]
local stream, waiters = KEYS[1], KEYS[2]
local cap, channel, ttl, reason, mode = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local ids = {}
for i = 6, #ARGV do ids[#ids + 1] = ARGV[i] end

-- Validate everything before the first write: Lua does not roll back.
if cap == nil or cap < 1 or cap ~= math.floor(cap) then
  return redis.error_reply('ERR capTrim: cap must be a whole number >= 1, got ' .. tostring(ARGV[1]))
end
if ttl == nil or ttl < 0 or ttl ~= math.floor(ttl) then
  return redis.error_reply('ERR capTrim: status TTL must be a whole number >= 0, got ' .. tostring(ARGV[3]))
end
if mode ~= 'P' and mode ~= 'S' then
  return redis.error_reply('ERR capTrim: publish mode must be P or S, got ' .. tostring(mode))
end
if #ids < 1 or #ids > 1000 then
  return redis.error_reply('ERR capTrim: between 1 and 1000 ids per call, got ' .. #ids)
end
if #KEYS ~= #ids + 2 then
  return redis.error_reply('ERR capTrim: one status key per id expected, got ' .. (#KEYS - 2) .. ' for ' .. #ids)
end
for _, id in ipairs(ids) do
  if not string.match(id, '^%d+%-%d+$') then return redis.error_reply('ERR capTrim: not a stream id: ' .. id) end
end
-- @include writeStatus
-- @include serverNowMs

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local function successor(id)
  local ms, seq = parse(id)
  if seq >= 9007199254740991 then return string.format('%.0f-0', ms + 1) end
  return string.format('%.0f-%.0f', ms, seq + 1)
end

-- The ids must still be the oldest entries, and removing them must not go below the cap.
if redis.call('XLEN', stream) - #ids < cap then return { 0 } end
local rows = redis.call('XRANGE', stream, '-', '+', 'COUNT', #ids)
if #rows ~= #ids then return { 0 } end
for i, r in ipairs(rows) do
  if r[1] ~= ids[i] then return { 0 } end
end

-- Who had not acknowledged what.
local first, last = ids[1], ids[#ids]
local perGroup = {}
local lostAny = {}
for _, row in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local g = {}
  for i = 1, #row, 2 do g[row[i]] = row[i + 1] end
  local owner = {}
  local pendingIds = {}
  if tonumber(g['pending']) > 0 then
    for _, p in ipairs(redis.call('XPENDING', stream, g['name'], first, last, #ids)) do
      owner[p[1]] = p[2]
      pendingIds[#pendingIds + 1] = p[1]
    end
  end
  local delivered = g['last-delivered-id']
  local lost = {}
  for i, id in ipairs(ids) do
    if owner[id] ~= nil or less(delivered, id) then
      lost[#lost + 1] = i
      lostAny[i] = true
    end
  end
  perGroup[#perGroup + 1] = { name = g['name'], owner = owner, pendingIds = pendingIds, lost = lost }
end

-- Writes. XACK first (it does not grow memory, so it is allowed even at maxmemory).
for _, pg in ipairs(perGroup) do
  if #pg.pendingIds > 0 then redis.call('XACK', stream, pg.name, unpack(pg.pendingIds)) end
end
local removed = redis.call('XTRIM', stream, 'MINID', successor(last))

local now = tostring(serverNowMs())
local listening = redis.call('EXISTS', waiters) == 1
local counts = {}
for _, pg in ipairs(perGroup) do
  local field = pg.name .. ':state'
  local marked = {}
  for _, i in ipairs(pg.lost) do
    local key, id = KEYS[i + 2], ids[i]
    if redis.call('HGET', key, field) ~= 'lost' then
      local fields = { 'state', 'lost', 'error', reason, 'updatedAt', now, 'finishedAt', now }
      if pg.owner[id] ~= nil then
        fields[#fields + 1] = 'consumer'
        fields[#fields + 1] = pg.owner[id]
      end
      writeStatus(key, pg.name, ttl, fields)
      marked[#marked + 1] = id
    end
  end
  if #marked > 0 then
    counts[#counts + 1] = pg.name
    counts[#counts + 1] = #marked
    if listening then redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'lost|' .. pg.name .. '|' .. table.concat(marked, ',')) end
  end
end

local lostIds = {}
for i, id in ipairs(ids) do
  if lostAny[i] then lostIds[#lostIds + 1] = id end
end
return { 1, removed, lostIds, counts }
