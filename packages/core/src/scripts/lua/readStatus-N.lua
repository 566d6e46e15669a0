--[[
  Find one event's success record in success buckets (protocol version 2, docs/PROTOCOL.md
  §5.2), server-side, so only the record crosses the network. Read-only. Work: one GET and a
  plain search per key, bounded by the records of one second of one group.

  KEYS[1..n]  success buckets to search (`T:ok:<group>:<second>`, one per group asked)
  ARGV[1]     the event id's token within its second: `<ms within the second, base 36>[-<seq>]`
  ARGV[2]     optional: '1' to take skip records (`~<token>[:<attempts>];`, skipOlderThanMs) too

  Reply: per key two values: attempts (0 when the key holds no record of the token), and the
  time marker before the record (ms after the bucket's start, as written; '' when none).
  A key that is missing or not a string answers 0, ''. With ARGV[2] '1', three values per key:
  the last record of either kind; attempts is the skip record's attempts + 1 (0 still means
  none), and the third value is 's' for a skip record, '' for a success.
]]
local token = ARGV[1]
local withSkips = ARGV[2] == '1'
if type(token) ~= 'string' or not string.match(token, '^[0-9a-z]+$') and not string.match(token, '^[0-9a-z]+%-%d+$') then
  return redis.error_reply('ERR streamfan invalid argument token: ' .. tostring(token))
end
local reply = {}
for k = 1, #KEYS do
  local ok, s = pcall(redis.call, 'GET', KEYS[k])
  local attempts, marker, kind = 0, '', ''
  if ok and type(s) == 'string' then
    -- The last record of the token: ';<token>;' or ';<token>:<attempts>;' (and, with skips,
    -- ';~<token>;' or ';~<token>:<attempts>;').
    local function last(prefix)
      local at, tail = nil, nil
      local from = 1
      while true do
        local i, j = string.find(s, prefix .. token, from, true)
        if i == nil then break end
        local c = string.sub(s, j + 1, j + 1)
        if c == ';' or c == ':' then at, tail = i, j + 1 end
        from = j + 1
      end
      return at, tail
    end
    local at, tail = last(';')
    local skipAt, skipTail = nil, nil
    if withSkips then skipAt, skipTail = last(';~') end
    if skipAt ~= nil and (at == nil or skipAt > at) then
      at, tail = skipAt, skipTail
      kind = 's'
      attempts = 1
      if string.sub(s, tail, tail) == ':' then
        attempts = (tonumber(string.match(s, '^(%d+);', tail + 1)) or 0) + 1
      end
    elseif at ~= nil then
      attempts = 1
      if string.sub(s, tail, tail) == ':' then
        attempts = tonumber(string.match(s, '^(%d+);', tail + 1)) or 1
      end
    end
    if at ~= nil then
      -- The last marker before the record.
      local m = nil
      local p = 1
      while true do
        local i = string.find(s, '@', p, true)
        if i == nil or i > at then break end
        m = i
        p = i + 1
      end
      if m ~= nil then marker = string.match(s, '^(%-?%d+);', m + 1) or '' end
    end
  end
  reply[#reply + 1] = attempts
  reply[#reply + 1] = marker
  if withSkips then reply[#reply + 1] = kind end
end
return reply
