--[[
  Retention that never drops undelivered work: compute the lowest id some group still
  needs (its oldest pending entry, or the entry after its last-delivered id) and trim
  below it. With a hard cap, trim further to at most `maxLen` entries and report what
  that cost: those entries had not been acknowledged by every group.

  KEYS[1]  stream

  ARGV[1]  '1' approximate trim (~), '0' exact
  ARGV[2]  '1' dry run (count only)
  ARGV[3]  hard cap on length (0: none)
  ARGV[4]  how many lost ids to return at most

  Reply: { safe min id or '', removed by safe trim, removed by cap, length after, groups, lost ids... }
]]
local stream = KEYS[1]
local approx, dry, cap, maxIds = ARGV[1] == '1', ARGV[2] == '1', tonumber(ARGV[3]), tonumber(ARGV[4])

if redis.call('EXISTS', stream) == 0 then return { '', 0, 0, 0, 0 } end

local function successor(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms .. '-' .. tostring(tonumber(seq) + 1)
end
local function less(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local function countBelow(minId)
  local n, cursor = 0, '-'
  while true do
    local rows = redis.call('XRANGE', stream, cursor, '(' .. minId, 'COUNT', 1000)
    n = n + #rows
    if #rows < 1000 then return n end
    cursor = '(' .. rows[#rows][1]
  end
end

local groups = redis.call('XINFO', 'GROUPS', stream)
local floor = nil
for _, row in ipairs(groups) do
  local g = {}
  for i = 1, #row, 2 do g[row[i]] = row[i + 1] end
  local need = successor(g['last-delivered-id'])
  if tonumber(g['pending']) > 0 then
    local summary = redis.call('XPENDING', stream, g['name'])
    if summary[2] and less(summary[2], need) then need = summary[2] end
  end
  if floor == nil or less(need, floor) then floor = need end
end

local removed, capped, lost = 0, 0, {}
if floor ~= nil then
  if dry then
    removed = countBelow(floor)
  else
    local before = redis.call('XLEN', stream)
    if approx then
      redis.call('XTRIM', stream, 'MINID', '~', floor)
    else
      redis.call('XTRIM', stream, 'MINID', floor)
    end
    removed = before - redis.call('XLEN', stream)
  end
end

local len = redis.call('XLEN', stream) - (dry and removed or 0)
if cap > 0 and len > cap then
  capped = len - cap
  local start = '-'
  if floor ~= nil then
    start = floor
    -- An approximate trim leaves some entries below the floor: every group acknowledged
    -- them, so the cap removing them loses nothing. Only entries from the floor on count.
    if not dry then capped = capped - math.min(countBelow(floor), capped) end
  end
  if capped > 0 then
    local rows = redis.call('XRANGE', stream, start, '+', 'COUNT', math.min(capped, maxIds))
    for _, r in ipairs(rows) do lost[#lost + 1] = r[1] end
  end
  if not dry then redis.call('XTRIM', stream, 'MAXLEN', cap) end
  len = cap
end

local reply = { floor or '', removed, capped, len, #groups }
for _, id in ipairs(lost) do reply[#reply + 1] = id end
return reply
