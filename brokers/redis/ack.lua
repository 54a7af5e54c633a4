-- ack.lua: forgets messages a consumer finished (see ack_held in common.lua).
-- KEYS[1]  base `ns:q`
-- KEYS[2]  the consumer's acks set
-- ARGV     rids
-- Returns  how many were still held. An id no longer held (requeued after the consumer was
--          taken for dead, or acked by an earlier run of this call) is left alone, so its
--          payload is never removed from under the consumer that now holds it.
return ack_held(KEYS[1], KEYS[2], ARGV, 1)
