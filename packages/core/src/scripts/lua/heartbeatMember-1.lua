--[[
  A consumer says it is alive in its group's member set, and learns who else is: members are
  scored by when their heartbeat expires (server ms); expired members are dropped here. The
  set expires with the group's last consumer.

  KEYS[1]  the member set ({<topic>}:consumers:<group>)

  ARGV[1]  member (owner id <consumer>/<incarnation>)
  ARGV[2]  heartbeat lifetime in ms (>= 1): the member counts as alive until now + this
  ARGV[3]  most members allowed (a new member beyond it is refused)
  ARGV[4]  TTL of the set in ms (>= ARGV[2])

  Reply: { now, member, expiry, member, expiry, ... } the live members, this one included
]]
local set = KEYS[1]
local member = ARGV[1]
-- @include checkArgs
-- @include serverNowMs
if member == nil or member == '' or string.len(member) > 200 then argError('member', member) end
local life = needCount('lifetime', ARGV[2])
local most = needCount('most members', ARGV[3])
local ttl = needCount('ttl', ARGV[4])
if life < 1 then argError('lifetime', ARGV[2]) end
if ttl < life then argError('ttl', ARGV[4]) end
needType(set, 'zset')

local now = serverNowMs()
redis.call('ZREMRANGEBYSCORE', set, '-inf', '(' .. now)
if redis.call('ZSCORE', set, member) == false and redis.call('ZCARD', set) >= most then
  return redis.error_reply('ERR streamfan the group already has ' .. most .. ' live consumers, the most allowed')
end
redis.call('ZADD', set, now + life, member)
redis.call('PEXPIRE', set, ttl)
local reply = { now }
local rows = redis.call('ZRANGE', set, 0, -1, 'WITHSCORES')
for i = 1, #rows do reply[#reply + 1] = rows[i] end
return reply
