-- retry.lua: replaces a held message by its next attempt, as one step.
-- KEYS[1]  base `ns:q`
-- KEYS[2]  the consumer's acks set
-- ARGV     old rid, new rid, new payload, priority, delay (ms), dq, eta tail (as in enqueue.lua)
-- Returns  1 when done, 0 when the consumer no longer held the old id (then the retry is
--          not written either: whoever holds the old id now runs it).
local base, acks = KEYS[1], KEYS[2]
if redis.call('SREM', acks, ARGV[1]) == 0 then return 0 end
forget(base, ARGV[1])
store(base, now_ms(), ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7])
return 1
