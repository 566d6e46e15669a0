--[[
  Replay dead letters to their group only: copy each to the group's redelivery stream with
  attempts reset (and its `delayed` id and partition `key`, when it has them), delete it from
  the dead letters and mark its status pending again. The
  status forgets the dead letter (deadLetterId, finishedAt, error, result, nextAttemptAt): the
  entry they describe is gone, and the replay's outcome will be written afresh.

  KEYS[1]     the group's dead-letter stream
  KEYS[2]     the group's redelivery stream
  KEYS[3..n]  status hash of each event, in the order of ARGV[3..]
  KEYS[n+1]   optional: the group's copy -> event map (`T:copies:<group>`): each replay is recorded

  ARGV[1]  group
  ARGV[2]  status TTL in seconds (0: no expiry)
  ARGV[3..n] dead-letter entry ids

  Reply: number replayed (malformed dead letters, without a payload or event id, stay)
]]
local dlq, redeliver = KEYS[1], KEYS[2]
local group = ARGV[1]
-- @include writeStatus
-- @include serverNowMs
-- @include entryFields
-- @include checkArgs
-- @include copyMap
-- @include replayEntries
local ttl = needCount('ttl', ARGV[2])
if group == nil or group == '' then argError('group', group) end
if #KEYS ~= #ARGV and #KEYS ~= #ARGV + 1 then argError('ids', 'need one status key per dead-letter id') end
local copies = nil
if #KEYS == #ARGV + 1 then copies = KEYS[#KEYS] end
for i = 3, #ARGV do needId('dead-letter id', ARGV[i]) end
needType(redeliver, 'stream')
for k = 3, #ARGV do needType(KEYS[k], 'hash') end
if copies ~= nil then needType(copies, 'zset') end

-- Read everything first: every check before the first write.
local todo = replayable(dlq)
local now = tostring(serverNowMs())
for _, t in ipairs(todo) do
  local copy = replayEntry(dlq, redeliver, ARGV[t.i], t.f, KEYS[t.i], group, ttl, now)
  if copies ~= nil then recordCopy(copies, copy, t.f['id']) end
end
if copies ~= nil and #todo > 0 then pruneCopies(copies, redeliver, group, ttl) end
return #todo
