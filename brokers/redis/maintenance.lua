-- maintenance.lua: requeues the messages of dead consumers and trims old dead letters.
-- Every live broker runs it on a timer, so recovery does not depend on luck or traffic.
-- KEYS[1]  `ns:__heartbeats__`
-- KEYS[2]  `ns:__dramats_consumers__`
-- ARGV     namespace prefix (`ns:`), heartbeat timeout (ms), dead-message TTL (ms),
--          then the queues this broker serves
-- Returns  { consumers reaped, messages requeued, dead letters trimmed }
--
-- A dead consumer is one whose heartbeat is older than the timeout. The registry says which
-- queue its acks set belongs to, so no KEYS scan is needed. A dead id missing from the
-- registry belongs to a Python Dramatiq worker: its acks sets for our queues are requeued
-- and its heartbeat is left for Dramatiq's own maintenance, which knows its other queues.
local hb, registry = KEYS[1], KEYS[2]
local ns, timeout, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local reaped, requeued, trimmed = 0, 0, 0

local dead = redis.call('ZRANGEBYSCORE', hb, '-inf', now - timeout, 'LIMIT', 0, 1000)
for _, cid in ipairs(dead) do
  local q = redis.call('HGET', registry, cid)
  if q then
    requeued = requeued + requeue_all(ns .. q, ns .. '__acks__.' .. cid .. '.' .. q)
    requeue_dq(ns .. q, ns .. '__acks__.' .. cid .. '.' .. q .. '.DQ') -- held until their eta: back to `ns:q.DQ`
    redis.call('HDEL', registry, cid)
    redis.call('ZREM', hb, cid)
    reaped = reaped + 1
  else
    for i = 4, #ARGV do
      local base = ns .. ARGV[i]
      requeued = requeued + requeue_all(base, ns .. '__acks__.' .. cid .. '.' .. ARGV[i])
      -- Dramatiq's delay-queue consumers hold ids of `ns:q.DQ.msgs`: back to `ns:q.DQ`.
      local dq_acks = ns .. '__acks__.' .. cid .. '.' .. ARGV[i] .. '.DQ'
      for _, rid in ipairs(redis.call('SMEMBERS', dq_acks)) do
        if redis.call('HEXISTS', base .. '.DQ.msgs', rid) == 1 then
          redis.call('RPUSH', base .. '.DQ', rid)
          requeued = requeued + 1
        end
      end
      redis.call('DEL', dq_acks)
    end
  end
end

for i = 4, #ARGV do
  trimmed = trimmed + trim_dead(ns .. ARGV[i], now, ttl, 1000)
end
return { reaped, requeued, trimmed }
