-- Redis server time in ms: all scheduling uses it, so client clock skew changes nothing.
local function serverNowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
