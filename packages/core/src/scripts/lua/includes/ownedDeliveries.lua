-- Returns the delivery count of entry `id` in `group` when `consumer` owns it, else nil.
-- XACK checks no owner, so every settle script checks it here first.
local function ownedDeliveries(stream, group, consumer, id)
  local rows = redis.call('XPENDING', stream, group, id, id, 1, consumer)
  if rows[1] == nil then return nil end
  return tonumber(rows[1][4])
end
