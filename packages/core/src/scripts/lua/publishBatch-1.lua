--[[
  Append a batch of events to a topic stream in one step. Atomic like MULTI/EXEC (a script
  runs alone, and Redis refuses it for OOM before its first write, never halfway), but one
  command to parse and one reply, instead of a QUEUED reply per event: about twice as fast.

  KEYS[1]  topic stream

  ARGV     per event, 2 values: payload, headers ('' for none)

  Reply: the new entry ids, in order
]]
local stream = KEYS[1]
local ids = {}
for i = 1, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', stream, '*', 'payload', ARGV[i], 'headers', ARGV[i + 1])
end
return ids
