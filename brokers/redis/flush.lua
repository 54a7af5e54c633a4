-- flush.lua: drops every ready, delayed and dead message of a queue.
-- KEYS[1]  base `ns:q`
-- Ids still in consumers' acks sets stay there; settling them later is a harmless no-op,
-- and a requeue skips them because their payload is gone.
local base = KEYS[1]
for _, l in ipairs(redis.call('ZRANGE', base .. ':levels', 0, -1)) do
  redis.call('DEL', level_key(base, tonumber(l)))
end
redis.call('DEL', base, base .. '.msgs', base .. '.DQ', base .. '.DQ.msgs', base .. '.XQ', base .. '.XQ.msgs',
  base .. ':delayed', base .. ':prio', base .. ':levels', base .. ':wake', base .. ':reasons', base .. ':etas')
return 1
