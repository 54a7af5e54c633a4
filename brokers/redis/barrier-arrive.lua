-- Group barrier: record that a member arrived; report the arrival that completes the barrier.
-- KEYS[1] = HASH { parties, fired }   (created by the caller with HSETNX + PEXPIRE)
-- KEYS[2] = SET of arrived members
-- ARGV    = member
-- Returns 1 exactly once, for the arrival that brings the set to `parties`; else 0.
-- Members are counted once however often they arrive, so a redelivered message cannot fire early.
local parties = tonumber(redis.call("HGET", KEYS[1], "parties"))
if parties == nil then
  return 0
end
redis.call("SADD", KEYS[2], ARGV[1])
redis.call("PEXPIRE", KEYS[2], redis.call("PTTL", KEYS[1]))
if redis.call("SCARD", KEYS[2]) < parties then
  return 0
end
if redis.call("HSETNX", KEYS[1], "fired", 1) == 1 then
  return 1
end
return 0
