--[[
  Append one or more events to a topic stream in one step, at most once per publish call.

  ioredis re-sends a command whose reply was lost when the connection dropped; if Redis had
  already run it, a plain XADD would store the event twice. So each call carries its
  producer's sequence number: the ids written are kept under that number in the producer's
  hash, and a resend finds them there and writes nothing. The hash holds only calls whose
  reply the client has not seen yet: each call also deletes the numbers the client has had
  answers for since its previous call (no resend can come for those).

  Atomic like MULTI/EXEC (a script runs alone; XADD is its first write, so at maxmemory Redis
  refuses it before anything is written), but one command to parse and one reply.

  KEYS[1]  topic stream
  KEYS[2]  the producer's hash: call number -> ids written (comma-separated)

  ARGV[1]  this call's number (unique per producer)
  ARGV[2]  producer hash TTL in ms (refreshed by every call)
  ARGV[3]  n: how many answered call numbers follow
  ARGV[4 .. 3+n]  answered call numbers, to forget
  ARGV[4+n]  values per event: '2' (payload, headers) or '3' (payload, headers, key mark)
  then per event, 2 or 3 values: payload, headers ('' for none), and with 3 the key mark:
  '' for an event without a key, '=' followed by the key otherwise (partitioned topics; the
  entry gets a `key` field)

  Reply: the entry ids, in order (the first run's ids on a resend)
]]
local stream, producer = KEYS[1], KEYS[2]
local call, ttl, answered = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if call == nil or call == '' then return redis.error_reply('ERR publishEvents: empty call number') end
if ttl == nil or ttl < 1 or ttl ~= math.floor(ttl) then return redis.error_reply('ERR publishEvents: bad TTL ' .. tostring(ARGV[2])) end
if answered == nil or answered < 0 or answered ~= math.floor(answered) then return redis.error_reply('ERR publishEvents: bad answered count') end
local stride = tonumber(ARGV[4 + answered])
if stride ~= 2 and stride ~= 3 then return redis.error_reply('ERR publishEvents: values per event must be 2 or 3') end
local first = 5 + answered
if #ARGV < first + 1 or (#ARGV - first + 1) % stride ~= 0 then return redis.error_reply('ERR publishEvents: events must come as ' .. stride .. ' values each') end

local seen = redis.call('HGET', producer, call)
if seen then
  local ids = {}
  for id in string.gmatch(seen, '[^,]+') do ids[#ids + 1] = id end
  return ids
end
local ids = {}
for i = first, #ARGV, stride do
  local mark = stride == 3 and ARGV[i + 2] or ''
  if mark == '' then
    ids[#ids + 1] = redis.call('XADD', stream, '*', 'payload', ARGV[i], 'headers', ARGV[i + 1])
  else
    ids[#ids + 1] = redis.call('XADD', stream, '*', 'payload', ARGV[i], 'headers', ARGV[i + 1], 'key', string.sub(mark, 2))
  end
end
redis.call('HSET', producer, call, table.concat(ids, ','))
for i = 4, first - 2, 500 do
  redis.call('HDEL', producer, unpack(ARGV, i, math.min(i + 499, first - 2)))
end
redis.call('PEXPIRE', producer, ttl)
return ids
