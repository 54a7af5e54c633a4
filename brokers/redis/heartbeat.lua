-- heartbeat.lua: marks consumers alive (run on a timer, whatever the traffic).
-- KEYS[1]  `ns:__heartbeats__`
-- KEYS[2]  `ns:__dramats_consumers__`
-- ARGV     pairs: consumer id, queue name
local now = now_ms()
for i = 1, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], now, ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return now
