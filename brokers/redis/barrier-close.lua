-- Group barrier: mark its callbacks released, so later arrivals report 0.
-- KEYS[1] = HASH { parties, fired }
-- Returns 1 when this call set `fired`; 0 when it was set already or the barrier is gone
-- (an expired barrier is not recreated without its TTL).
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
return redis.call("HSETNX", KEYS[1], "fired", 1)
