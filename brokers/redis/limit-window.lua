-- Sliding-window rate limiter: record a hit if fewer than `limit` hits in the last `window` ms.
-- KEYS[1] = ZSET of hits scored by time (epoch ms)
-- ARGV    = limit, window (ms), unique member for this hit
-- Returns 1 when the hit was admitted, else 0.
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, limit, window = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call("ZREMRANGEBYSCORE", key, "-inf", now - window)
if redis.call("ZCARD", key) >= limit then
  return 0
end
redis.call("ZADD", key, now, ARGV[3])
redis.call("PEXPIRE", key, window)
return 1
