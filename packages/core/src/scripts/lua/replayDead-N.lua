--[[
  Replay dead letters to their group only: copy each to the group's redelivery stream with
  attempts reset, delete it from the dead letters and mark its status pending again.

  KEYS[1]     the group's dead-letter stream
  KEYS[2]     the group's redelivery stream
  KEYS[3..n]  status hash of each event, in the order of ARGV[3..]

  ARGV[1]  group
  ARGV[2]  status TTL in seconds
  ARGV[3..n] dead-letter entry ids

  Reply: number replayed
]]
local dlq, redeliver = KEYS[1], KEYS[2]
local group, ttl = ARGV[1], tonumber(ARGV[2])
-- @include writeStatus
-- @include serverNowMs
-- @include entryFields
local now = tostring(serverNowMs())
local replayed = 0
for i = 3, #ARGV do
  local f = entryFields(dlq, ARGV[i])
  if f ~= nil and f['payload'] ~= nil then
    redis.call('XADD', redeliver, '*', 'payload', f['payload'], 'headers', f['headers'] or '', 'orig', f['id'], 'base', '0')
    redis.call('XDEL', dlq, ARGV[i])
    writeStatus(KEYS[i], group, ttl, { 'state', 'pending', 'attempts', '0', 'error', '', 'updatedAt', now, 'replayedAt', now })
    replayed = replayed + 1
  end
end
return replayed
