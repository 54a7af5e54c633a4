-- enqueue.lua: stores messages and makes them ready (or schedules them).
-- KEYS[1]  base `ns:q`
-- ARGV     groups of 4: rid, payload, priority (integer, lower runs first), delay (ms, 0 = now)
-- Returns  how many were stored (a re-sent call stores nothing twice: HSETNX guards it).
local base = KEYS[1]
local now = now_ms()
local stored = 0
for i = 1, #ARGV, 4 do
  stored = stored + store(base, now, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]))
end
return stored
