-- Group barrier (a chord's): record that a member arrived; report whether the callbacks are
-- due. The barrier is Dramatiq's, so Python and Node members count on the same one:
-- KEYS[1] = `<id>`          STRING parties still to arrive, created SET NX PX by whoever built
--                           the chord (dramatiq/rate_limits/backends/redis.py:45-46 `add`,
--                           dramatiq/composition.py:287-288)
-- KEYS[2] = `<id>@events`   LIST, pushed "x" by the arrival that clears it
--                           (dramatiq/rate_limits/barrier.py:146-149, backends/redis.py:110-114)
-- KEYS[3] = `<id>@dramats`  HASH, dramats only: `m:<member>` per member counted, `cleared` when
--                           a dramats arrival cleared it, `fired` once its callbacks were enqueued
-- KEYS[4], KEYS[5] = the barrier hash and members set of dramats before 0.x (kept for chords
--                           created before an upgrade): used only when KEYS[1] does not exist
-- ARGV[1] = member (the message id)
-- Returns 1 when the callbacks are due and not yet enqueued by dramats; else 0.
--
-- Counting as Dramatiq's Barrier.wait does (barrier.py:146, backends/redis.py:65-79 `decr`
-- with minimum 1): an arrival finding n > 1 leaves n - 1; one finding 1 clears the barrier and
-- leaves 1. Unlike Dramatiq, a member is counted once however often it arrives (a redelivered
-- member cannot fire early), and the clearing is recorded: until barrier-close.lua runs, a
-- redelivery of a counted member reports 1 again (a process that died before enqueueing the
-- callbacks is recovered that way; the broker's claim makes the enqueue happen once). A barrier
-- that Python cleared (its `@events` list exists) is never fired here: Python enqueued them.
local counter, events, state, member = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
local left = tonumber(redis.call('GET', counter))
if left == nil then
  -- Missing: expired, or built by an older dramats (Dramatiq would fire on every arrival here).
  local parties = tonumber(redis.call('HGET', KEYS[4], 'parties'))
  if parties == nil then return 0 end
  redis.call('SADD', KEYS[5], member)
  redis.call('PEXPIRE', KEYS[5], redis.call('PTTL', KEYS[4]))
  if redis.call('SCARD', KEYS[5]) < parties then return 0 end
  if redis.call('HEXISTS', KEYS[4], 'fired') == 1 then return 0 end
  return 1
end
local ttl = redis.call('PTTL', counter)
local fresh = redis.call('HSETNX', state, 'm:' .. member, 1) == 1
if ttl > 0 then redis.call('PEXPIRE', state, ttl) end
if redis.call('HEXISTS', state, 'cleared') == 1 then
  return 1 - redis.call('HEXISTS', state, 'fired')
end
if left > 1 then
  if fresh then redis.call('SET', counter, left - 1, 'KEEPTTL') end
  return 0
end
-- One party left: a member not counted yet clears it, unless Python cleared it already.
if not fresh or redis.call('EXISTS', events) == 1 then return 0 end
redis.call('HSET', state, 'cleared', 1)
redis.call('RPUSH', events, 'x')
if ttl > 0 then redis.call('PEXPIRE', events, ttl) end
return 1
