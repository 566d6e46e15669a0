--[[
  Remove a consumer from a group only when it holds no pending entries (XGROUP DELCONSUMER
  would silently drop them) and, when ARGV[3] > 0, it has been idle at least that long.

  KEYS[1]  stream

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3]  minimum idle in ms (0: any)

  Reply: 1 removed, 0 kept (holds entries or is active), -1 no such consumer
]]
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
-- @include checkArgs
local minIdle = needCount('minimum idle', ARGV[3])
local rows = redis.call('XINFO', 'CONSUMERS', stream, group)
for _, row in ipairs(rows) do
  local info = {}
  for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
  if info['name'] == consumer then
    if tonumber(info['pending']) > 0 then return 0 end
    if minIdle > 0 and tonumber(info['idle']) < minIdle then return 0 end
    redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
    return 1
  end
end
return -1
