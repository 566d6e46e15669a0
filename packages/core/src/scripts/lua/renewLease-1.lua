--[[
  Extend a lease while its fencing token is still the caller's. An expired lease that nobody
  took meanwhile is renewed too (nobody else worked the partition: the token says so); a
  released one (until 0) is not.

  KEYS[1]  the lease hash

  ARGV[1]  owner id
  ARGV[2]  the caller's token
  ARGV[3]  lease length in ms (>= 1)

  Reply: { 1, until } renewed | { 0, current owner or '', current token or 0 } lost
]]
local lease = KEYS[1]
local owner = ARGV[1]
-- @include checkArgs
-- @include serverNowMs
if owner == nil or owner == '' then argError('owner', owner) end
local token = needCount('token', ARGV[2])
local ms = needCount('lease ms', ARGV[3])
if ms < 1 then argError('lease ms', ARGV[3]) end
needType(lease, 'hash')

local cur = redis.call('HMGET', lease, 'owner', 'token', 'until')
if cur[1] ~= owner or tonumber(cur[2]) ~= token or cur[3] == '0' then
  return { 0, cur[1] or '', tonumber(cur[2] or '0') }
end
local untilMs = serverNowMs() + ms
redis.call('HSET', lease, 'until', untilMs)
return { 1, untilMs }
