-- Replay of dead letters (replayDead, replayOrdered); after the includes entryFields and
-- writeStatus. `replayable` reads, `replayEntry` writes: a script reads everything first.
-- The dead letters of `dlq` named by ARGV[3..] that can be replayed, as { i = ARGV index,
-- f = fields }: those still there with a payload and an event id (malformed ones stay).
local function replayable(dlq)
  local todo = {}
  for i = 3, #ARGV do
    local f = entryFields(dlq, ARGV[i])
    if f ~= nil and f['payload'] ~= nil and f['id'] ~= nil and string.match(f['id'], '^%d+%-%d+$') then
      todo[#todo + 1] = { i = i, f = f }
    end
  end
  return todo
end
-- Copy dead letter `deadId` (fields `f`) to the group's redelivery stream with attempts reset,
-- keeping its `delayed` id and partition `key` (a replayed event is still its key's event),
-- delete it from the dead letters, and make the event's status `st` pending again: the status
-- forgets the dead letter (deadLetterId, finishedAt, error, result, nextAttemptAt), the entry
-- they describe is gone and the replay's outcome will be written afresh. Returns the copy's id.
local function replayEntry(dlq, redeliver, deadId, f, st, group, ttl, now)
  local args = { redeliver, '*', 'payload', f['payload'], 'headers', f['headers'] or '', 'orig', f['id'], 'base', '0' }
  if f['delayed'] ~= nil then args[#args + 1] = 'delayed'; args[#args + 1] = f['delayed'] end
  if f['key'] ~= nil then args[#args + 1] = 'key'; args[#args + 1] = f['key'] end
  local copy = redis.call('XADD', unpack(args))
  redis.call('XDEL', dlq, deadId)
  redis.call('HDEL', st, group .. ':deadLetterId', group .. ':finishedAt', group .. ':error', group .. ':result', group .. ':nextAttemptAt')
  writeStatus(st, group, ttl, { 'state', 'pending', 'attempts', '0', 'updatedAt', now, 'replayedAt', now })
  return copy
end
