-- requeue-dead.lua: moves dead letters back to their queue, ready to run again.
-- KEYS[1]  base `ns:q`
-- ARGV     groups of 3: rid, payload to run (retry count reset by the caller), priority
-- Returns  how many were requeued. A rid no longer in `ns:q.XQ` (requeued or trimmed since
--          the caller read it, or this call re-sent) is skipped, so no message is doubled.
-- Each rid leaves `ns:q.XQ`, `ns:q.XQ.msgs` and `ns:q:reasons` and is stored as a new ready
-- message under the same rid in one step.
local base = KEYS[1]
local now = now_ms()
local moved = 0
for i = 1, #ARGV, 3 do
  local rid = ARGV[i]
  if redis.call('ZREM', base .. '.XQ', rid) == 1 then
    redis.call('HDEL', base .. '.XQ.msgs', rid)
    redis.call('HDEL', base .. ':reasons', rid)
    moved = moved + store(base, now, rid, ARGV[i + 1], tonumber(ARGV[i + 2]), 0)
  end
end
return moved
