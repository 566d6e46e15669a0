-- Runs `redis.call(head..., items[i..j]..., tail...)` over `items` in chunks of 1000:
-- Lua's unpack stops near 8000 values, and unpack(t) followed by another argument expands
-- only t's first value. Returns the replies of every chunk, concatenated when they are arrays.
local function callChunked(head, items, tail)
  local out = {}
  for i = 1, #items, 1000 do
    local args = {}
    for _, v in ipairs(head) do args[#args + 1] = v end
    for j = i, math.min(i + 999, #items) do args[#args + 1] = items[j] end
    if tail ~= nil then for _, v in ipairs(tail) do args[#args + 1] = v end end
    local r = redis.call(unpack(args))
    if type(r) == 'table' then
      for _, v in ipairs(r) do out[#out + 1] = v end
    else
      out[#out + 1] = r
    end
  end
  return out
end
