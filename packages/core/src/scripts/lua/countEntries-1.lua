--[[
  Count the entries of a range, at most `count` per call, replying with the count only (no
  payloads cross the network). The caller pages with the last id returned: a dry run counts
  a backlog of any length in short steps instead of one long call.

  KEYS[1]  stream

  ARGV[1]  start: '-' or '(<id>' (exclusive: the last id of the previous page)
  ARGV[2]  end: '+' or '(<id>' / '<id>'
  ARGV[3]  most entries to count in this call (1..10000)

  Reply: { entries counted, last id counted or '' }
]]
local stream = KEYS[1]
local start, stop, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
if count == nil or count < 1 or count > 10000 or count ~= math.floor(count) then
  return redis.error_reply('ERR countEntries: count must be a whole number in 1..10000, got ' .. tostring(ARGV[3]))
end
local rows = redis.call('XRANGE', stream, start, stop, 'COUNT', count)
if #rows == 0 then return { 0, '' } end
return { #rows, rows[#rows][1] }
