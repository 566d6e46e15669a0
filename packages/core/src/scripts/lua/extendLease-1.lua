--[[
  Keep the lease of entries whose handlers still run: reset their idle time (XCLAIM JUSTID,
  which does not count a delivery) so reclaim treats them as alive. Only entries this
  consumer still owns are touched.

  KEYS[1]  source stream

  ARGV[1]  group
  ARGV[2]  consumer
  ARGV[3..n] entry ids (the caller sends at most 1000 per call; the XCLAIM is chunked anyway)

  Reply: { lost ids, deleted ids }
    lost:    not pending for this consumer any more (reclaimed by another consumer, or acked)
    deleted: pending for this consumer, but deleted from the stream (trimmed or XDEL) while
             the handler ran; the caller records them lost. Redis 7.0+ and Valkey: XCLAIM drops
             their pending entries and leaves them out of its reply. Redis 6.2: XCLAIM keeps them
             pending and returns their ids as if alive, so each id XCLAIM kept is also looked up
             (XRANGE id id); the lost-recording script XACKs them.
]]
local stream, group, consumer = KEYS[1], ARGV[1], ARGV[2]
-- @include ownedDeliveries
-- @include callChunked
-- @include orphaned
local lost = {}
local mine = {}
for i = 3, #ARGV do
  if ownedDeliveries(stream, group, consumer, ARGV[i]) ~= nil then
    mine[#mine + 1] = ARGV[i]
  elseif orphaned(stream, group, consumer, ARGV[i]) then
    -- The group was recreated while the handler ran: take the entry back (FORCE) and keep it.
    -- An entry deleted from the stream is ignored by FORCE: reported deleted below.
    redis.call('XCLAIM', stream, group, consumer, 0, ARGV[i], 'FORCE', 'JUSTID')
    mine[#mine + 1] = ARGV[i]
  else
    lost[#lost + 1] = ARGV[i]
  end
end
local deleted = {}
if #mine > 0 then
  local kept = {}
  for _, id in ipairs(callChunked({ 'XCLAIM', stream, group, consumer, 0 }, mine, { 'JUSTID' })) do kept[id] = true end
  for _, id in ipairs(mine) do
    if not kept[id] or #redis.call('XRANGE', stream, id, id) == 0 then deleted[#deleted + 1] = id end
  end
end
return { lost, deleted }
