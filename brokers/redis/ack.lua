-- ack.lua: forgets messages a consumer finished.
-- KEYS[1]  base `ns:q`
-- KEYS[2]  the consumer's acks set
-- ARGV     rids
-- Returns  how many were still held. An id no longer held (requeued after the consumer was
--          taken for dead, or acked by an earlier run of this call) is left alone, so its
--          payload is never removed from under the consumer that now holds it.
local base, acks = KEYS[1], KEYS[2]
local settled = 0
for i = 1, #ARGV, CHUNK do
  local part = {}
  for j = i, math.min(i + CHUNK - 1, #ARGV) do part[#part + 1] = ARGV[j] end
  local held = redis.call('SMISMEMBER', acks, unpack(part))
  local mine = {}
  for j, rid in ipairs(part) do
    if held[j] == 1 then mine[#mine + 1] = rid end
  end
  if #mine > 0 then
    redis.call('SREM', acks, unpack(mine))
    redis.call('HDEL', base .. '.msgs', unpack(mine))
    redis.call('HDEL', base .. ':prio', unpack(mine))
    settled = settled + #mine
  end
end
return settled
