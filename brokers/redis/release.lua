-- release.lua: a consumer closing cleanly gives back everything it holds and unregisters.
-- KEYS[1]  base `ns:q`
-- KEYS[2]  the consumer's acks set (its delay-queue acks set is this name + `.DQ`)
-- KEYS[3]  `ns:__heartbeats__`
-- KEYS[4]  `ns:__dramats_consumers__`
-- ARGV[1]  consumer id
-- Returns  how many messages became ready again.
local n = requeue_all(KEYS[1], KEYS[2])
requeue_dq(KEYS[1], KEYS[2] .. '.DQ') -- delay-queue ids held until their eta: back to `ns:q.DQ`
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return n
