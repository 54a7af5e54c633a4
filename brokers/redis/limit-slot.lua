-- Concurrent rate limiter: take a slot for a holder, at most `limit` live holders.
-- KEYS[1] = ZSET holder -> expiry (epoch ms)
-- ARGV    = holder, limit, ttl (ms)
-- Returns 1 when the slot was taken (or the holder already had one), else 0.
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, holder, limit, ttl = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call("ZREMRANGEBYSCORE", key, "-inf", now)
if redis.call("ZSCORE", key, holder) == false and redis.call("ZCARD", key) >= limit then
  return 0
end
redis.call("ZADD", key, now + ttl, holder)
redis.call("PEXPIRE", key, ttl)
return 1
