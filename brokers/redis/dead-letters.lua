-- dead-letters.lua: the oldest dead letters of a queue with their reasons.
-- KEYS[1]  base `ns:q`
-- ARGV[1]  how many (-1: all)
-- Returns  { rid, payload, reason or false, dead-at ms, ... }
local base = KEYS[1]
local limit = tonumber(ARGV[1])
local stop = -1
if limit >= 0 then stop = limit - 1 end
if stop < -1 or limit == 0 then return {} end
local entries = redis.call('ZRANGE', base .. '.XQ', 0, stop, 'WITHSCORES')
local out = {}
for i = 1, #entries, 2 do
  local rid = entries[i]
  local body = redis.call('HGET', base .. '.XQ.msgs', rid)
  if body then
    out[#out + 1] = rid
    out[#out + 1] = body
    out[#out + 1] = redis.call('HGET', base .. ':reasons', rid)
    out[#out + 1] = entries[i + 1]
  end
end
return out
