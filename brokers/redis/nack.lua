-- nack.lua: moves a failed message to the dead letters with its reason.
-- KEYS[1]  base `ns:q`
-- KEYS[2]  the consumer's acks set
-- ARGV     rid, reason, dead-message TTL (ms)
-- Returns  1 when dead-lettered, 0 when the consumer no longer held it (see ack.lua).
-- `ns:q.XQ` and `ns:q.XQ.msgs` are Dramatiq's; the reason goes to `ns:q:reasons`.
local base, acks = KEYS[1], KEYS[2]
local rid, reason, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('SREM', acks, rid) == 0 then return 0 end
local now = now_ms()
local body = redis.call('HGET', base .. '.msgs', rid)
if body then
  redis.call('HSET', base .. '.XQ.msgs', rid, body)
  redis.call('ZADD', base .. '.XQ', now, rid)
  redis.call('HSET', base .. ':reasons', rid, reason)
end
forget(base, rid)
trim_dead(base, now, ttl, 100)
return 1
