--[[
  Hand pending entries of a group to another consumer (repair by hand), all or nothing:
  when any id is not pending in the group, nothing is claimed. Each id is looked up in the
  topic stream's pending list first, then in the group's redelivery stream. JUSTID keeps
  the delivery count, so a hand claim is not counted as an attempt; idle time restarts.

  KEYS[1]  the topic stream
  KEYS[2]  the group's redelivery stream

  ARGV[1]     group
  ARGV[2]     consumer to give the entries to
  ARGV[3..n]  entry ids

  Reply: { 1, id, source, previous owner, deliveries, ... } when claimed
         { 0, missing id, ... } when some ids are not pending (nothing claimed)
]]
local stream, redeliver = KEYS[1], KEYS[2]
local group, consumer = ARGV[1], ARGV[2]
-- @include checkArgs
for i = 3, #ARGV do needId('entry id', ARGV[i]) end

local function pendingRow(s, id)
  local ok, rows = pcall(redis.call, 'XPENDING', s, group, id, id, 1)
  if not ok or rows[1] == nil then return nil end
  return rows[1]
end

local found = {}
local missing = { 0 }
for i = 3, #ARGV do
  local id = ARGV[i]
  local row = pendingRow(stream, id)
  local src, key = 'topic', stream
  if row == nil then
    row = pendingRow(redeliver, id)
    src, key = 'redelivery', redeliver
  end
  if row == nil then
    missing[#missing + 1] = id
  else
    found[#found + 1] = { id, src, key, row[2], row[4] }
  end
end
if #missing > 1 then return missing end

local reply = { 1 }
for _, f in ipairs(found) do
  redis.call('XCLAIM', f[3], group, consumer, 0, f[1], 'JUSTID')
  reply[#reply + 1] = f[1]
  reply[#reply + 1] = f[2]
  reply[#reply + 1] = f[4]
  reply[#reply + 1] = f[5]
end
return reply
