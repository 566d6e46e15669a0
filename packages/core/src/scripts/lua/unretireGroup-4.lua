--[[
  Take a group off a topic's retired list, and forget what recovery had recorded of the retired
  group, so the next subscribe creates a new group of that name at its startFrom (see
  Streamfan.unretireGroup). A consumer that was running when the group was retired met NOGROUP and
  may have begun a recovery before it learned of the retirement: its recreated bound, its
  known-groups member and its recovering marker would make the new group resume where the old
  one was (and pass over entries the old group had finished), instead of at its startFrom.

  KEYS[1]  the topic's retired hash (group -> retired at)
  KEYS[2]  the group's recreated key (string)
  KEYS[3]  the topic's known-groups sorted set (members '<group>|<floor>|<last-delivered>')
  KEYS[4]  the topic's recovering sorted set (members '<group>|<floor>')

  ARGV[1]  group

  Reply: 1 when the group was retired (and is no longer), 0 when it was not (nothing written).
]]
local group = ARGV[1]
if type(group) ~= 'string' or group == '' then
  return redis.error_reply('ERR unretireGroup: ARGV[1] group must be a non-empty string')
end
if redis.call('HDEL', KEYS[1], group) == 0 then return 0 end
redis.call('DEL', KEYS[2])
local head = group .. '|'
for k = 3, 4 do
  local drop = {}
  for _, m in ipairs(redis.call('ZRANGE', KEYS[k], 0, -1)) do
    if string.sub(m, 1, #head) == head then drop[#drop + 1] = m end
  end
  if #drop > 0 then redis.call('ZREM', KEYS[k], unpack(drop)) end
end
return 1
