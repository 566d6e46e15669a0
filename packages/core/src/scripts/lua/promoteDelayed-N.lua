--[[
  Move due delayed events into the topic stream. The client reads which ids look due (the
  keys of their hashes must be known before the script runs); the script checks each again
  by server time, so an id already promoted by another client, or not due yet, is skipped.
  Each promoted event's hash keeps only `event` (its stream id) and `due`, and expires with
  the status hashes: the delayed id leads to the event in O(1), and the entry's `delayed`
  field leads back.

  KEYS[1]     the delayed sorted set
  KEYS[2]     the topic stream
  KEYS[3]     waiters key: the `promoted` notice is published only while it exists
  KEYS[4..n]  the delayed-id hash of each member, in order

  ARGV[1]  TTL in seconds of a promoted event's hash (0: none)
  ARGV[2]  notice channel ('' for none)
  ARGV[3]  'P' to PUBLISH, 'S' to SPUBLISH the notice
  ARGV[4..n]  members (delayed ids; a JSON object of fields for members written by older versions)

  Reply: { promoted count, ms until the next member is due or -1 }
  Notice: "promoted||<delayedId>=<eventId>,..."
]]
local set, stream, waiters = KEYS[1], KEYS[2], KEYS[3]
-- @include serverNowMs
-- @include checkArgs
local ttl = needCount('ttl', ARGV[1])
local channel = ARGV[2]
local mode = needOneOf('publish mode', ARGV[3], 'P', 'S')
if #KEYS ~= #ARGV then argError('members', 'need one hash key per member') end
for k = 4, #KEYS do needType(KEYS[k], 'hash') end

local now = serverNowMs()
local promoted = {}
for i = 4, #ARGV do
  local member, ref = ARGV[i], KEYS[i]
  local score = redis.call('ZSCORE', set, member)
  if score and tonumber(score) <= now then
    -- ZREM first: at maxmemory Redis refuses a script's first write if it may grow memory
    -- (XADD), not ZREM, and allows the writes after it; so due events still move.
    redis.call('ZREM', set, member)
    local fields, delayedId = nil, member
    if string.sub(member, 1, 1) == '{' then
      local ok, t = pcall(cjson.decode, member)
      if ok and type(t) == 'table' then fields = t; delayedId = t['delayed'] end
    else
      local h = redis.call('HMGET', ref, 'payload', 'headers', 'key')
      if h[1] then fields = { payload = h[1], headers = h[2] or '', delayed = member, key = h[3] } end
    end
    if fields ~= nil then
      local args = { stream, '*' }
      for _, k in ipairs({ 'payload', 'headers', 'delayed', 'key' }) do
        if type(fields[k]) == 'string' then args[#args + 1] = k; args[#args + 1] = fields[k] end
      end
      local id = redis.call('XADD', unpack(args))
      if type(delayedId) == 'string' and delayedId ~= '' then
        redis.call('HDEL', ref, 'payload', 'headers', 'key')
        redis.call('HSET', ref, 'event', id)
        if ttl > 0 then redis.call('EXPIRE', ref, ttl) end
        promoted[#promoted + 1] = delayedId .. '=' .. id
      end
    end
  end
end
if #promoted > 0 and channel ~= '' and redis.call('EXISTS', waiters) == 1 then
  redis.call(mode == 'S' and 'SPUBLISH' or 'PUBLISH', channel, 'promoted||' .. table.concat(promoted, ','))
end
local nextDue = -1
local first = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
if first[2] ~= nil then nextDue = math.max(0, tonumber(first[2]) - now) end
return { #promoted, nextDue }
