--[[
  Keep the lease of entries whose handlers still run: reset their idle time (XCLAIM JUSTID,
  which does not count a delivery) so reclaim treats them as alive. Only entries this
  consumer still owns are touched.

  KEYS[1]  source stream

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3..n] entry ids

  Reply: the ids whose lease is lost (reclaimed by another consumer or acknowledged).
]]
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
-- @include ownedDeliveries
local lost = {}
local mine = {}
for i = 3, #ARGV do
  if ownedDeliveries(stream, group, consumer, ARGV[i]) == nil then
    lost[#lost + 1] = ARGV[i]
  else
    mine[#mine + 1] = ARGV[i]
  end
end
if #mine > 0 then
  redis.call('XCLAIM', stream, group, consumer, 0, unpack(mine), 'JUSTID')
end
return lost
