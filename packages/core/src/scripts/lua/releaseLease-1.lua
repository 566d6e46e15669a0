--[[
  Give a lease up (rebalance, close): until becomes 0, so the next acquire takes it at once
  (with a new token). The owner stays for display; the token never goes back.

  KEYS[1]  the lease hash

  ARGV[1]  owner id
  ARGV[2]  the caller's token

  Reply: 1 released | 0 not the caller's any more (nothing written)
]]
local lease = KEYS[1]
local owner = ARGV[1]
-- @include checkArgs
if owner == nil or owner == '' then argError('owner', owner) end
local token = needCount('token', ARGV[2])
needType(lease, 'hash')
local cur = redis.call('HMGET', lease, 'owner', 'token')
if cur[1] ~= owner or tonumber(cur[2]) ~= token then return 0 end
redis.call('HSET', lease, 'until', 0)
return 1
