-- enqueue-once.lua: stores messages and sets a claim key as one step, or does nothing.
-- KEYS[1]  the claim: a string of the broker's key-value store (`ns:__kv__:<key>`)
-- ARGV[1]  the claim's value; ARGV[2] its time to live (ms)
-- ARGV     then groups of 7: base `ns:q` of the message's queue, rid, payload, priority, delay (ms),
--          dq, eta tail (as in enqueue.lua)
--          (the bases are arguments because one claim may cover messages of several queues)
-- Returns  1 when every message was stored (by `store`, exactly where enqueue.lua puts them)
--          and the claim set; 0 when the claim existed, and nothing was written.
-- The claim is set last: Redis does not roll a script back, so a command failing half-way
-- (a queue key of the wrong type) leaves no claim behind and the call can simply be made again.
-- A re-sent call after a dropped connection finds its own claim and writes nothing twice.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local now = now_ms()
for i = 3, #ARGV, 7 do
  store(ARGV[i], now, ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6])
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
