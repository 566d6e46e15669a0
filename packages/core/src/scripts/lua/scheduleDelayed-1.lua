--[[
  Hold events for delayed delivery, due at server time + delay (or an absolute time).

  KEYS[1]  the topic's delayed sorted set

  ARGV[1..n]  per event, 2 values: member (JSON fields) and due spec:
              '+<ms>' relative to server time, or '<ms>' absolute

  Reply: { due time in ms of each event }
]]
local set = KEYS[1]
-- @include serverNowMs
local now = serverNowMs()
local reply = {}
for i = 1, #ARGV, 2 do
  local spec = ARGV[i + 1]
  local due
  if string.sub(spec, 1, 1) == '+' then due = now + tonumber(string.sub(spec, 2)) else due = tonumber(spec) end
  redis.call('ZADD', set, due, ARGV[i])
  reply[#reply + 1] = due
end
return reply
