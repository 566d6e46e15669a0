-- Input checks. A script validates every argument before its first write, because Lua does
-- not roll back writes made before an error; each failure is an error reply that names the
-- argument, raised while nothing is written yet.
-- Redis 7+ replies with an error table's `err` as is; Redis 6.2 cannot raise a table (its reply
-- becomes "attempt to concatenate local 'err'"), so there the message is raised as a string and
-- arrives inside "ERR Error running script ...: <message>". Found by trying, not by version.
local ERROR_TABLES = type(select(2, pcall(error, { err = 'probe' }))) == 'string'
local function raise(msg)
  if ERROR_TABLES then error({ err = msg }) end
  error(msg, 0)
end
local function argError(name, value)
  raise('ERR streamfan invalid argument ' .. name .. ': ' .. tostring(value))
end
-- A whole decimal number >= 0 (tonumber alone accepts 'nan', 'inf' and hex).
local function needCount(name, v)
  if type(v) ~= 'string' or not string.match(v, '^%d+$') or string.len(v) > 15 then argError(name, v) end
  return tonumber(v)
end
-- A stream id 'ms-seq'.
local function needId(name, v)
  if type(v) ~= 'string' or not string.match(v, '^%d+%-%d+$') then argError(name, v) end
  return v
end
local function needOneOf(name, v, a, b, c)
  if v ~= a and v ~= b and v ~= c then argError(name, v) end
  return v
end
-- A key that will be written must be missing or of the type the script writes.
local function needType(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    raise('WRONGTYPE streamfan key ' .. key .. ' holds a ' .. t .. ', not a ' .. want)
  end
end
