--[[
  Move members of a schedule (delayed publishes, or one group's retries) whose time has
  come, by server time, into a stream. A member is a JSON object of the entry's fields.

  KEYS[1]  sorted set scored by due time in ms
  KEYS[2]  target stream

  ARGV[1]  how many at most

  Reply: { promoted count, ms until the next member is due or -1 }
]]
local set, stream = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[1])
-- @include serverNowMs

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
    if #args > 2 then redis.call('XADD', unpack(args)) end
  end
end
local nextDue = -1
local first = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
if first[2] ~= nil then
  nextDue = math.max(0, tonumber(first[2]) - now)
end
return { #due, nextDue }
