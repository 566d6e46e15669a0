--[[
  Take one group's lease on one partition when it is free: no owner, expired (until < now,
  server time) or released (until 0). Taking it increments the fencing token, so every
  script that checks the token refuses the previous owner from now on. Asking again while
  holding it (a resend after a lost reply) returns the current token unchanged.

  KEYS[1]  the lease hash ({<topic>#<i>}:lease:<group>): owner, token, until, acquiredAt

  ARGV[1]  owner id (<consumer>/<incarnation>)
  ARGV[2]  lease length in ms (>= 1)
  ARGV[3]  optional: the group's ordering ('key' or 'none'), kept in the hash as `ordering` so
           hand repairs (claim) can tell an ordered group (absent: the field is left as it is)

  Reply: { 1, token, until, previous owner ('' if none) }  acquired (or already ours)
         { 0, owner, until }                               held by another owner
]]
local lease = KEYS[1]
local owner = ARGV[1]
-- @include checkArgs
-- @include serverNowMs
if owner == nil or owner == '' or string.len(owner) > 200 then argError('owner', owner) end
local ms = needCount('lease ms', ARGV[2])
if ms < 1 then argError('lease ms', ARGV[2]) end
local ordering = ARGV[3]
if ordering ~= nil and ordering ~= 'key' and ordering ~= 'none' then argError('ordering', ordering) end
needType(lease, 'hash')

local now = serverNowMs()
local cur = redis.call('HMGET', lease, 'owner', 'token', 'until')
local untilMs = tonumber(cur[3] or '0')
if cur[1] and untilMs >= now then
  if cur[1] == owner then return { 1, tonumber(cur[2]), untilMs, owner } end
  return { 0, cur[1], untilMs }
end
local token = redis.call('HINCRBY', lease, 'token', 1)
redis.call('HSET', lease, 'owner', owner, 'until', now + ms, 'acquiredAt', now)
if ordering ~= nil then redis.call('HSET', lease, 'ordering', ordering) end
return { 1, token, now + ms, cur[1] or '' }
