-- The copy -> event map of one group (`<prefix>:{T}:copies:<group>`, a sorted set): member
-- '<copy id> <event id>', scored by the copy id's ms. Written with every redelivery entry (a retry
-- copy or a replay), so a copy deleted before its handler saw it still names its event (markLost).
local function recordCopy(copies, copyId, eventId)
  local ms = tonumber(string.match(copyId, '^(%d+)%-'))
  if ms ~= nil then redis.call('ZADD', copies, ms, copyId .. ' ' .. eventId) end
end
-- Forget the copies the group no longer needs: below both its oldest pending entry and the entry
-- after its last-delivered id on the redelivery stream (acknowledged). Work: O(consumers) plus at
-- most 200 members removed. `ttl` > 0 refreshes the map's lifetime (the status TTL: a name is no use after).
local function pruneCopies(copies, redeliver, group, ttl)
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', redeliver)
  if ok then
    for _, row in ipairs(groups) do
      local g = {}
      for i = 1, #row, 2 do g[row[i]] = row[i + 1] end
      if g['name'] == group then
        local floorMs = tonumber(string.match(tostring(g['last-delivered-id']), '^(%d+)%-'))
        if floorMs ~= nil and tonumber(g['pending']) > 0 then
          local summary = redis.call('XPENDING', redeliver, group)
          local p = summary[2] and tonumber(string.match(summary[2], '^(%d+)%-'))
          if p ~= nil and p < floorMs then floorMs = p end
        end
        if floorMs ~= nil then
          -- At most 200 per call (ZRANGEBYSCORE + ZREM: commands every role that writes copies
          -- already has); each write adds one, so the map keeps up.
          local old = redis.call('ZRANGEBYSCORE', copies, '-inf', '(' .. floorMs, 'LIMIT', 0, 200)
          if #old > 0 then redis.call('ZREM', copies, unpack(old)) end
        end
      end
    end
  end
  if ttl > 0 then redis.call('EXPIRE', copies, ttl) end
end
