--[[
  Record which wire protocol version the data under a prefix uses, once, and tell the caller
  the version stored. Every client calls it before it first writes under the prefix (publish,
  subscribe, waitFor, trim), streamfan's own and foreign ones (docs/PROTOCOL.md): a client that
  finds a version it does not speak stops before it writes anything else.

  KEYS[1]  the prefix's protocol hash (<prefix>:protocol): version, createdAt

  ARGV[1]  the protocol version the caller speaks (a whole number >= 1)

  Reply: { 'created', version }   the hash had no version: this call wrote ARGV[1]
         { 'ok', stored version } already recorded: the caller compares it with its own
                                  (as stored, which may not even be a number)
  Errors: WRONGTYPE when the key holds something other than a hash; invalid argument.
]]
local key = KEYS[1]
-- @include checkArgs
-- @include serverNowMs
local version = needCount('version', ARGV[1])
if version < 1 then argError('version', ARGV[1]) end
needType(key, 'hash')

local stored = redis.call('HGET', key, 'version')
if stored then return { 'ok', stored } end
redis.call('HSET', key, 'version', tostring(version), 'createdAt', tostring(serverNowMs()))
return { 'created', tostring(version) }
