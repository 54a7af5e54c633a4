-- stats.lua: queue depths, plus what `join` needs to fail fast.
-- KEYS[1]  base `ns:q`
-- ARGV[1]  since: epoch ms (server clock) from an earlier call, or -1 for "now"
-- Returns  { ready, delayed, in flight, dead, since, first dead rid since `since` or false,
--            its reason or false, its payload or false }
-- In flight = payloads neither ready nor delayed: held in some consumer's acks set. Counting
-- it this way needs no scan of acks sets, and includes Python workers' sets too.
local base = KEYS[1]
local now = now_ms()
local since = tonumber(ARGV[1])
if since < 0 then since = now end

local ready = redis.call('LLEN', base)
for _, l in ipairs(redis.call('ZRANGE', base .. ':levels', 0, -1)) do
  ready = ready + redis.call('LLEN', level_key(base, tonumber(l)))
end
local delayed_here = redis.call('ZCARD', base .. ':delayed')
local delayed = delayed_here + redis.call('HLEN', base .. '.DQ.msgs')
local in_flight = math.max(0, redis.call('HLEN', base .. '.msgs') - ready - delayed_here)
local dead = redis.call('ZCARD', base .. '.XQ')

local first = redis.call('ZRANGEBYSCORE', base .. '.XQ', since, '+inf', 'LIMIT', 0, 1)
local rid, reason, body = false, false, false
if first[1] then
  rid = first[1]
  reason = redis.call('HGET', base .. ':reasons', rid)
  body = redis.call('HGET', base .. '.XQ.msgs', rid)
end
return { ready, delayed, in_flight, dead, since, rid, reason, body }
