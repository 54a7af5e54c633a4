-- stats.lua: queue depths, plus what `join` needs to fail fast.
-- KEYS[1]  base `ns:q`
-- ARGV[1]  since: epoch ms (server clock) of a join's cursor, or -1 to look for no dead letter
-- ARGV[2..] dead ids scored exactly `since` that the cursor already covers
-- Returns  { ready, delayed, in flight, dead, now, first dead rid from `since` on that is not
--            covered or false, its reason or false, its payload or false, rids scored `now`... }
-- `now` and the rids scored `now` are the cursor past every dead letter this call could see.
-- In flight = payloads neither ready nor delayed: held in some consumer's acks set. Counting
-- it this way needs no scan of acks sets, and includes Python workers' sets too.
local base = KEYS[1]
local now = now_ms()
local since = tonumber(ARGV[1])

local ready = redis.call('LLEN', base)
for _, l in ipairs(redis.call('ZRANGE', base .. ':levels', 0, -1)) do
  ready = ready + redis.call('LLEN', level_key(base, tonumber(l)))
end
local delayed_here = redis.call('ZCARD', base .. ':delayed')
local delayed = delayed_here + redis.call('HLEN', base .. '.DQ.msgs')
local in_flight = math.max(0, redis.call('HLEN', base .. '.msgs') - ready - delayed_here)
local dead = redis.call('ZCARD', base .. '.XQ')

local rid, reason, body = false, false, false
if since >= 0 then
  local covered = {}
  for i = 2, #ARGV do covered[ARGV[i]] = true end
  -- Covered ids score exactly `since`, so they come first: one more than them is enough.
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. '.XQ', since, '+inf', 'LIMIT', 0, #ARGV)) do
    if not covered[id] then
      rid = id
      break
    end
  end
  if rid then
    reason = redis.call('HGET', base .. ':reasons', rid)
    body = redis.call('HGET', base .. '.XQ.msgs', rid)
  end
end
local reply = { ready, delayed, in_flight, dead, now, rid, reason, body }
for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. '.XQ', now, now)) do reply[#reply + 1] = id end
return reply
