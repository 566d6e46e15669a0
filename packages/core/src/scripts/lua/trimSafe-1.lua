--[[
  One bounded step of retention that never drops undelivered work: compute the lowest id
  some group still needs (its oldest pending entry, or the entry after its last-delivered
  id) and trim below it, removing at most `limit` entries. The caller repeats the step
  until it removes nothing: each call stays short however long the backlog is.

  Work per call: O(groups + consumers) to find the floor, plus whole stream nodes freed
  (at most `limit` entries), plus, in exact mode, at most 1000 entries read. Nothing here
  is proportional to the stream's or a PEL's length.

  KEYS[1]  stream

  ARGV[1]  mode: 'approx' (whole nodes only, `~`), 'exact' (whole nodes first; once none is
           left below the floor, the entries of the node that holds it, 1000 at most per
           call), 'floor' (compute the floor, remove nothing: dry runs)
  ARGV[2]  limit: most entries one call may remove by whole nodes (≥ stream-node-max-entries,
           or the approximate trim cannot remove a node at all)
  ARGV[3]  minimum age in ms (optional, whole, ≥ 0; default 0): never trim an entry younger than
           this by the server's clock (TIME): the floor is at most `<now - minAge>-0`. Timed
           retention passes it so that a group created late (a `startFrom: 'latest'` subscriber
           whose connection came up after the event was published and handled by the other
           groups) still finds the entries published after its subscribe() call

  Reply: { floor or '' (no group: nothing is trimmed), removed by this call, length after, groups }
  (the floor reported is the effective one: the lower of the groups' and the minimum age's)
]]
local stream = KEYS[1]
local mode, limit = ARGV[1], tonumber(ARGV[2])
if mode ~= 'approx' and mode ~= 'exact' and mode ~= 'floor' then
  return redis.error_reply('ERR trimSafe: mode must be approx, exact or floor, got ' .. tostring(mode))
end
if limit == nil or limit < 1 or limit ~= math.floor(limit) then
  return redis.error_reply('ERR trimSafe: limit must be a whole number >= 1, got ' .. tostring(ARGV[2]))
end
local minAge = tonumber(ARGV[3] or '0')
if minAge == nil or minAge < 0 or minAge ~= math.floor(minAge) or minAge > 9007199254740991 then
  return redis.error_reply('ERR trimSafe: minimum age must be a whole number of ms >= 0, got ' .. tostring(ARGV[3]))
end

if redis.call('EXISTS', stream) == 0 then return { '', 0, 0, 0 } end

-- Ids are compared as numbers; seq values past 2^53 (never made by XADD '*') lose precision.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function successor(id)
  local ms, seq = parse(id)
  if seq >= 9007199254740991 then return string.format('%.0f-0', ms + 1) end
  return string.format('%.0f-%.0f', ms, seq + 1)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end

local groups = redis.call('XINFO', 'GROUPS', stream)
local floor = nil
for _, row in ipairs(groups) do
  local g = {}
  for i = 1, #row, 2 do g[row[i]] = row[i + 1] end
  local need = successor(g['last-delivered-id'])
  if tonumber(g['pending']) > 0 then
    -- The summary form: smallest pending id from the PEL's first node, O(consumers).
    local summary = redis.call('XPENDING', stream, g['name'])
    if summary[2] and less(summary[2], need) then need = summary[2] end
  end
  if floor == nil or less(need, floor) then floor = need end
end
if floor ~= nil and minAge > 0 then
  local t = redis.call('TIME')
  local cut = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - minAge
  if cut < 0 then cut = 0 end
  local young = string.format('%.0f-0', cut)
  if less(young, floor) then floor = young end
end

local removed = 0
if floor ~= nil and mode ~= 'floor' then
  removed = redis.call('XTRIM', stream, 'MINID', '~', floor, 'LIMIT', limit)
  if removed == 0 and mode == 'exact' then
    -- No whole node is left below the floor: trim inside the first one, 1000 entries at most.
    local rows = redis.call('XRANGE', stream, '-', '(' .. floor, 'COUNT', 1000)
    if #rows > 0 then
      local upTo = floor
      if #rows == 1000 then upTo = successor(rows[#rows][1]) end
      removed = redis.call('XTRIM', stream, 'MINID', upTo)
    end
  end
end

return { floor or '', removed, redis.call('XLEN', stream), #groups }
