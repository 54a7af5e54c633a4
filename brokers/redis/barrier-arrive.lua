-- Group barrier: record that a member arrived; report whether the barrier is complete and its
-- callbacks not yet released.
-- KEYS[1] = HASH { parties, fired }   (created by the caller with HSETNX + PEXPIRE)
-- KEYS[2] = SET of arrived members
-- ARGV    = member
-- Returns 1 when, with this member, the set holds `parties` members and `fired` is not set
-- (barrier-close.lua sets it once the callbacks were enqueued); else 0. The arrival that
-- completes the barrier gets 1, and so does a later arrival (a redelivered member) until the
-- barrier is closed: a process that died between the arrival and the enqueue of the callbacks
-- leaves the member unacknowledged, and its redelivery fires them. The caller makes the
-- release itself happen once (a claim enqueued with the callbacks in one broker step).
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
if redis.call("HEXISTS", KEYS[1], "fired") == 1 then
  return 0
end
return 1
