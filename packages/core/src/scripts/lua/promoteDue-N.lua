--[[
  Move members of a schedule (delayed publishes, or one group's retries) whose time has
  come, by server time, into a stream. A member is a JSON object of the entry's fields.

  KEYS[1]  sorted set scored by due time in ms
  KEYS[2]  target stream
  KEYS[3]  optional, for a group's retries: the group's copy -> event map (`T:copies:<group>`):
           each copy moved (a member with `orig`) is recorded there

  ARGV[1]  how many at most
  ARGV[2]  with KEYS[3]: the group
  ARGV[3]  with KEYS[3]: the status TTL in seconds (the map's lifetime; 0: none)

  Reply: { promoted count, ms until the next member is due or -1 }
]]
local set, stream, copies = KEYS[1], KEYS[2], KEYS[3]
local limit = tonumber(ARGV[1])
-- @include serverNowMs
-- @include checkArgs
-- @include copyMap
if #KEYS ~= 2 and #KEYS ~= 3 then argError('keys', #KEYS) end
if limit == nil or limit < 1 or limit ~= math.floor(limit) then argError('limit', ARGV[1]) end
local group, ttl = ARGV[2], 0
if copies ~= nil then
  if type(group) ~= 'string' or group == '' then argError('group', group) end
  ttl = needCount('ttl', ARGV[3])
  needType(copies, 'zset')
end

local now = serverNowMs()
local due = redis.call('ZRANGEBYSCORE', set, '-inf', now, 'LIMIT', 0, limit)
for _, member in ipairs(due) do
  -- ZREM first: at maxmemory Redis refuses a script's first write if it may grow memory
  -- (XADD), not ZREM, and allows the writes after it; so due retries still move.
  redis.call('ZREM', set, member)
  local ok, fields = pcall(cjson.decode, member)
  if ok and type(fields) == 'table' then
    local args = { stream, '*' }
    for k, v in pairs(fields) do
      if type(v) == 'string' then args[#args + 1] = k; args[#args + 1] = v end
    end
    if #args > 2 then
      local id = redis.call('XADD', unpack(args))
      if copies ~= nil and type(fields['orig']) == 'string' then recordCopy(copies, id, fields['orig']) end
    end
  end
end
if copies ~= nil and #due > 0 then pruneCopies(copies, stream, group, ttl) end
local nextDue = -1
local first = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
if first[2] ~= nil then
  nextDue = math.max(0, tonumber(first[2]) - now)
end
return { #due, nextDue }
