-- True when entry `id` has no pending record in `group` at all and `consumer` is not a member of
-- the group: the group was destroyed and recreated (XGROUP DESTROY, then recovery by another
-- consumer) while this consumer handled the entry, so its record went with the old group. Its
-- outcome still counts (at-least-once); an entry another consumer took over or acknowledged
-- while this one is a member is refused as before. XINFO CONSUMERS costs O(consumers): call
-- this only on the refusal path.
local memberCache = {}
local function orphaned(stream, group, consumer, id)
  if redis.call('XPENDING', stream, group, id, id, 1)[1] ~= nil then return false end
  if memberCache[stream] == nil then
    memberCache[stream] = 'no'
    local ok, rows = pcall(redis.call, 'XINFO', 'CONSUMERS', stream, group)
    if not ok then return false end
    for _, row in ipairs(rows) do
      for i = 1, #row, 2 do
        if row[i] == 'name' and row[i + 1] == consumer then memberCache[stream] = 'yes' end
      end
    end
  end
  return memberCache[stream] == 'no'
end
