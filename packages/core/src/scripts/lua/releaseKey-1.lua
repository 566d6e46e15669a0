--[[
  afterDeadLetter 'hold': release a key of an ordered group on one partition, so its held
  events run again (the owner notices within a second). Removes the key's block only when it
  is still the one expected (a dead-letter id purged by hand), or whatever it is when `expected`
  is '' (an explicit release).

  KEYS[1]  the group's blocked keys of this partition (hash key → dead-letter id or 'replay:<id>')

  ARGV[1]  the key
  ARGV[2]  the block expected ('' for any)

  Reply: 1 released, 0 not blocked (or blocked by something else)
]]
local blocked = KEYS[1]
local key, expected = ARGV[1], ARGV[2]
if key == nil or expected == nil then
  return redis.error_reply('ERR streamfan invalid argument key: need the key and the expected block')
end
local holder = redis.call('HGET', blocked, key)
if not holder or (expected ~= '' and holder ~= expected) then return 0 end
redis.call('HDEL', blocked, key)
return 1
