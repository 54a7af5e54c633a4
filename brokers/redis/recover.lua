-- recover.lua: gives back at once the messages of consumers whose process is known to be dead
-- (the `dramats` supervisor saw it exit), instead of waiting for their heartbeat to time out.
-- KEYS[1]  `ns:__heartbeats__`
-- KEYS[2]  `ns:__dramats_consumers__`
-- ARGV     namespace prefix (`ns:`), then consumer ids
-- Returns  how many messages became ready again (delay-queue ids it held go back to `ns:q.DQ`
--          uncounted: they are still delayed).
--
-- Like maintenance.lua's reaping, for named consumers: the registry says which queue each acks
-- set `ns:__acks__.<cid>.<q>` belongs to; ids go back to the head of their level. The consumer
-- leaves the heartbeats and the registry, so maintenance has nothing left to requeue twice. A
-- consumer missing from the registry holds nothing: the fetch that hands it ids registers it.
local hb, registry = KEYS[1], KEYS[2]
local ns = ARGV[1]
local n = 0
for i = 2, #ARGV do
  local cid = ARGV[i]
  local q = redis.call('HGET', registry, cid)
  if q then
    n = n + requeue_all(ns .. q, ns .. '__acks__.' .. cid .. '.' .. q)
    requeue_dq(ns .. q, ns .. '__acks__.' .. cid .. '.' .. q .. '.DQ') -- held until their eta: back to `ns:q.DQ`
    redis.call('HDEL', registry, cid)
  end
  redis.call('ZREM', hb, cid)
end
return n
