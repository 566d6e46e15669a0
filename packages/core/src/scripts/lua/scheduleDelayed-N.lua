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
              ('+<ms>' relative to server time, or '<ms>' absolute); or, when ARGV[1] is
              'keyed', 5 values per event after it: the same and a key mark ('' for no key,
              '=' followed by the key: partitioned topics; promotion writes it as `key`)

  Reply: { due time in ms of each event }
]]
local set = KEYS[1]
-- @include serverNowMs
-- @include checkArgs
local start, stride = 1, 4
if ARGV[1] == 'keyed' then start, stride = 2, 5 end
local values = #ARGV - start + 1
if values == 0 or values % stride ~= 0 or #KEYS ~= 1 + values / stride then argError('events', 'need ' .. stride .. ' values and one key per event') end
local now = serverNowMs()
local dues = {}
for i = start, #ARGV, stride do
  if string.sub(ARGV[i], 1, 8) ~= 'delayed-' then argError('delayed id', ARGV[i]) end
  local spec = ARGV[i + 3]
  if string.sub(spec, 1, 1) == '+' then dues[#dues + 1] = now + needCount('delay', string.sub(spec, 2))
  else dues[#dues + 1] = needCount('due time', spec) end
end
for k = 2, #KEYS do needType(KEYS[k], 'hash') end
needType(set, 'zset')

for n = 1, #dues do
  local i, ref = start + (n - 1) * stride, KEYS[n + 1]
  if redis.call('EXISTS', ref) == 0 then
    redis.call('HSET', ref, 'payload', ARGV[i + 1], 'headers', ARGV[i + 2], 'due', dues[n])
    if stride == 5 and ARGV[i + 4] ~= '' then redis.call('HSET', ref, 'key', string.sub(ARGV[i + 4], 2)) end
    redis.call('ZADD', set, dues[n], ARGV[i])
  end
end
return dues
