--[[
  A new owner of a partition takes over, one page at a time, every entry pending in the
  group to other consumers (XCLAIM JUSTID: the delivery count is kept), and learns each
  pending entry's key and delivery count, to rebuild its per-key queues in stream order
  before it reads anything new. Only while its lease token is current; since reads are fenced
  too, no one else can add to the PEL meanwhile, so the last page leaves the PEL complete.

  KEYS[1]  the group's lease on this partition
  KEYS[2]  the partition's stream, or the group's redelivery stream of it

  ARGV[1]  group
  ARGV[2]  consumer (the new owner)
  ARGV[3]  lease token
  ARGV[4]  where the page starts: '-' or '(<id>' (exclusive)
  ARGV[5]  page size (1 .. 1000)

  Reply: { 'fenced' }
       | { 'ok', next start ('' after the last page), rows, deleted ids }
         rows: { id, has key (1/0), key ('' when none), deliveries, previous owner } per entry,
         in stream order; deleted: pending ids whose entry was deleted from the stream (trimmed
         or XDEL); they are left pending for the caller to record as lost.
]]
local lease, stream = KEYS[1], KEYS[2]
local group, consumer, token, start = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- @include checkArgs
-- @include checkLease
needCount('token', token)
if start ~= '-' then
  if type(start) ~= 'string' or string.sub(start, 1, 1) ~= '(' then argError('start', start) end
  needId('start', string.sub(start, 2))
end
local size = needCount('page size', ARGV[5])
if size < 1 or size > 1000 then argError('page size', ARGV[5]) end
if not leaseHeld(lease, token) then return { 'fenced' } end

local pending = redis.call('XPENDING', stream, group, start, '+', size)
local rows, deleted, foreign = {}, {}, {}
for _, p in ipairs(pending) do
  local id, owner, deliveries = p[1], p[2], p[4]
  local entry = redis.call('XRANGE', stream, id, id)
  if entry[1] == nil then
    deleted[#deleted + 1] = id
  else
    local flat, key = entry[1][2], nil
    for i = 1, #flat, 2 do if flat[i] == 'key' then key = flat[i + 1] end end
    rows[#rows + 1] = { id, key and 1 or 0, key or '', deliveries, owner }
    if owner ~= consumer then foreign[#foreign + 1] = id end
  end
end
if #foreign > 0 then
  local args = { 'XCLAIM', stream, group, consumer, 0 }
  for _, id in ipairs(foreign) do args[#args + 1] = id end
  args[#args + 1] = 'JUSTID'
  redis.call(unpack(args))
end
local nextStart = ''
if #pending == size then nextStart = '(' .. pending[#pending][1] end
return { 'ok', nextStart, rows, deleted }
