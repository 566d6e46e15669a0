-- Writes fields `<group>:<name>` of one status hash and refreshes its TTL.
-- `fields` is a flat list name, value, name, value...
local function writeStatus(statusKey, group, ttlSec, fields)
  local args = {}
  for i = 1, #fields, 2 do
    args[#args + 1] = group .. ':' .. fields[i]
    args[#args + 1] = fields[i + 1]
  end
  redis.call('HSET', statusKey, unpack(args))
  if ttlSec > 0 then redis.call('EXPIRE', statusKey, ttlSec) end
end
