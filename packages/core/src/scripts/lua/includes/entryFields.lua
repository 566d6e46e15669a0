-- Reads one stream entry as a Lua table field -> value, or nil when it no longer exists.
local function entryFields(stream, id)
  local rows = redis.call('XRANGE', stream, id, id)
  if rows[1] == nil then return nil end
  local flat = rows[1][2]
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t, flat
end
