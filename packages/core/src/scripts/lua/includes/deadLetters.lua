-- Dead letters (deadLetter, settleOrdered); after the includes checkArgs and writeStatus.
-- The reasons a dead letter may give.
local function needReason(reason)
  if reason ~= 'handler' and reason ~= 'attempts' and reason ~= 'malformed' and reason ~= 'hung' then argError('reason', reason) end
  return reason
end
-- Copy entry `entryId` (its `fields` and `flat` list, as entryFields read them) of event
-- `eventId` to the dead-letter stream `dlq` (approximate MAXLEN `cap`, 0: none), with the
-- attempts, last error, reason, consumer and time (ms, text) of its end. An entry without a
-- payload field (not written by a streamfan publisher) keeps its fields as JSON in `raw`.
-- Returns the dead letter's id.
local function addDeadLetter(dlq, cap, eventId, entryId, fields, flat, attempts, err, reason, consumer, now)
  local args = { dlq }
  if cap > 0 then
    args[#args + 1] = 'MAXLEN'; args[#args + 1] = '~'; args[#args + 1] = cap
  end
  args[#args + 1] = '*'
  local function add(k, v) args[#args + 1] = k; args[#args + 1] = v end
  add('id', eventId)
  add('entry', entryId)
  if fields['payload'] ~= nil then
    add('payload', fields['payload'])
    add('headers', fields['headers'] or '')
    if fields['delayed'] ~= nil then add('delayed', fields['delayed']) end
    if fields['key'] ~= nil then add('key', fields['key']) end
  else
    add('raw', cjson.encode(flat))
  end
  add('attempts', attempts)
  add('error', err)
  add('reason', reason)
  add('consumer', consumer)
  add('deadAt', now)
  return redis.call('XADD', unpack(args))
end
-- The group's status of the event says `dead`, with the dead letter's id.
local function writeDead(statusKey, group, ttl, attempts, err, consumer, now, dlqId)
  writeStatus(statusKey, group, ttl, {
    'state', 'dead', 'attempts', attempts, 'error', err, 'consumer', consumer,
    'updatedAt', now, 'finishedAt', now, 'deadLetterId', dlqId,
  })
end
