--[[
  Hold events for delayed delivery, due at server time + delay (or an absolute time). The
  sorted set holds only the delayed ids; each event's payload and headers wait in its own
  hash (KEYS[i + 1]), which later maps the delayed id to the stream id (see promoteDelayed),
  so both ids are found in O(1).

  An event whose hash already exists is left alone: a resend of this call (ioredis re-sends a
  command whose reply was lost) schedules nothing twice, even after a promotion.

  KEYS[1]     the topic's delayed sorted set
  KEYS[2..n]  the delayed-id hash of each event, in order

  ARGV        per event, 4 values: delayed id, payload, headers, due spec
              ('+<ms>' relative to server time, or '<ms>' absolute)

  Reply: { due time in ms of each event }
]]
local set = KEYS[1]
-- @include serverNowMs
-- @include checkArgs
if #ARGV == 0 or #ARGV % 4 ~= 0 or #KEYS ~= 1 + #ARGV / 4 then argError('events', 'need 4 values and one key per event') end
local now = serverNowMs()
local dues = {}
for i = 1, #ARGV, 4 do
  if string.sub(ARGV[i], 1, 8) ~= 'delayed-' then argError('delayed id', ARGV[i]) end
  local spec = ARGV[i + 3]
  if string.sub(spec, 1, 1) == '+' then dues[#dues + 1] = now + needCount('delay', string.sub(spec, 2))
  else dues[#dues + 1] = needCount('due time', spec) end
end
for k = 2, #KEYS do needType(KEYS[k], 'hash') end
needType(set, 'zset')

for n = 1, #dues do
  local i, ref = (n - 1) * 4 + 1, KEYS[n + 1]
  if redis.call('EXISTS', ref) == 0 then
    redis.call('HSET', ref, 'payload', ARGV[i + 1], 'headers', ARGV[i + 2], 'due', dues[n])
    redis.call('ZADD', set, dues[n], ARGV[i])
  end
end
return dues
