--[[
  Publish with an idempotency key: the first publish writes the entry (or schedules it)
  and remembers its id for a window; a repeat within the window writes nothing and
  returns the first id.

  KEYS[1]  topic stream (or the delayed sorted set when ARGV[4] ~= '')
  KEYS[2]  idempotency marker

  ARGV[1]  payload
  ARGV[2]  headers
  ARGV[3]  window in ms
  ARGV[4]  '' for immediate, else the delayed member id
  ARGV[5]  delay in ms (relative to server time), when ARGV[6] is ''
  ARGV[6]  absolute due time in ms, or ''

  Reply: { 1 if written else 0, id }
]]
local target, marker = KEYS[1], KEYS[2]
local payload, headers, window = ARGV[1], ARGV[2], tonumber(ARGV[3])
local delayedId = ARGV[4]
-- @include serverNowMs

local existing = redis.call('GET', marker)
if existing then return { 0, existing } end
local id
if delayedId == '' then
  id = redis.call('XADD', target, '*', 'payload', payload, 'headers', headers)
else
  local due
  if ARGV[6] ~= '' then due = tonumber(ARGV[6]) else due = serverNowMs() + tonumber(ARGV[5]) end
  redis.call('ZADD', target, due, cjson.encode({ payload = payload, headers = headers, delayed = delayedId }))
  id = delayedId
end
redis.call('SET', marker, id, 'PX', window)
return { 1, id }
