-- Fencing for partitions: the caller's lease token must be the partition's current one. A
-- consumer that was paused past its lease (GC, SIGSTOP, a slow network) and whose partition
-- was taken over holds an older token: the script replies 'fenced' and writes nothing.
local function leaseHeld(leaseKey, token)
  return token ~= '' and redis.call('HGET', leaseKey, 'token') == token
end
