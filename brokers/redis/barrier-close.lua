-- Group barrier: its callbacks were enqueued; later arrivals, of either language, report 0.
-- KEYS as barrier-arrive.lua's.
-- Returns 1 when this call closed it; 0 when it was closed already or the barrier is gone
-- (an expired barrier is not recreated without its TTL).
-- The counter is set far from 1 (keeping its TTL): a Python member arriving later (a
-- redelivery) decrements it instead of clearing it again (barrier.py:146), so Python does
-- not fire the callbacks a second time.
local CLOSED = 1000000000000
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[1], CLOSED, 'KEEPTTL')
  local closed = redis.call('HSETNX', KEYS[3], 'fired', 1)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[3], ttl) end
  return closed
end
if redis.call('EXISTS', KEYS[4]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[4], 'fired', 1)
