--[[
  After a consumer group was destroyed and recreated (XGROUP DESTROY, then recovery), the
  entries a consumer was still handling have no pending record any more, so their acks would
  be refused and the group would never finish them. Take them back into the pending list,
  owned by this consumer, with their delivery counts (XCLAIM … FORCE). Only entries that are
  still in the stream and that no consumer of the group owns are taken: one another consumer
  holds stays with it.

  KEYS[1]  stream

  ARGV[1]  group
  ARGV[2]  consumer
  then per entry, 2 values: entry id, deliveries so far (>= 1)

  Reply: the entry ids taken back
]]
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
-- @include checkArgs
if (#ARGV - 2) % 2 ~= 0 then argError('entries', 'need an entry id and a delivery count per entry') end
for i = 3, #ARGV, 2 do needId('entry id', ARGV[i]); needCount('deliveries', ARGV[i + 1]) end
local adopted = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local owned = redis.call('XPENDING', stream, group, id, id, 1)
  if owned[1] == nil and redis.call('XRANGE', stream, id, id)[1] ~= nil then
    redis.call('XCLAIM', stream, group, consumer, 0, id, 'RETRYCOUNT', ARGV[i + 1], 'FORCE', 'JUSTID')
    adopted[#adopted + 1] = id
  end
end
return adopted
