--[[
  Replay dead letters of an ordered group (ordering 'key') on one partition to that group only,
  in key order (docs/partitions.md §6.3): as replayDead, each is copied to the group's
  redelivery stream with attempts reset and deleted from the dead letters, its status pending
  again — and the copy keeps its `key`, so the owner runs it in its key's order. When the dead
  letter is the one that blocks its key (afterDeadLetter 'hold'), the block passes to the
  replay ('replay:<new entry id>'): the replay runs first, and the key's held events follow
  once it succeeded. Ids are replayed in the order given (the caller sorts them).

  KEYS[1]     the group's dead-letter stream of this partition
  KEYS[2]     the group's redelivery stream of this partition
  KEYS[3]     the group's blocked keys of this partition (hash key → dead-letter id)
  KEYS[4..n]  status hash of each event, in the order of ARGV[3..]

  ARGV[1]  group
  ARGV[2]  status TTL in seconds (0: no expiry)
  ARGV[3..n] dead-letter entry ids

  Reply: number replayed (malformed dead letters, without a payload or event id, stay)
]]
local dlq, redeliver, blocked = KEYS[1], KEYS[2], KEYS[3]
local group = ARGV[1]
-- @include writeStatus
-- @include serverNowMs
-- @include entryFields
-- @include checkArgs
-- @include replayEntries
local ttl = needCount('ttl', ARGV[2])
if group == nil or group == '' then argError('group', group) end
if #KEYS ~= #ARGV + 1 then argError('ids', 'need one status key per dead-letter id') end
for i = 3, #ARGV do needId('dead-letter id', ARGV[i]) end
needType(redeliver, 'stream')
needType(blocked, 'hash')
for k = 4, #KEYS do needType(KEYS[k], 'hash') end

-- Read everything first: every check before the first write.
local todo = replayable(dlq)
local now = tostring(serverNowMs())
for _, t in ipairs(todo) do
  local f, i = t.f, t.i
  local copy = replayEntry(dlq, redeliver, ARGV[i], f, KEYS[i + 1], group, ttl, now)
  if f['key'] ~= nil and redis.call('HGET', blocked, f['key']) == ARGV[i] then
    redis.call('HSET', blocked, f['key'], 'replay:' .. copy)
  end
end
return #todo
