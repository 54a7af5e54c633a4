-- enqueue.lua: stores messages and makes them ready (or schedules them).
-- KEYS[1]  base `ns:q`
-- ARGV     groups of 6: rid, payload, priority (integer, lower runs first), delay (ms, 0 = now),
--          dq ('0', '1' or '2': where a delayed one goes, see `store`), eta tail (or '')
-- Returns  how many were stored (a re-sent call stores nothing twice: HSETNX guards it).
local base = KEYS[1]
local now = now_ms()
local stored = 0
for i = 1, #ARGV, 6 do
  stored = stored + store(base, now, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), ARGV[i + 4], ARGV[i + 5])
end
return stored
