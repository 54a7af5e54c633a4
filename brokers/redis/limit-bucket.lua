-- Token bucket: take one token from a bucket of `capacity`, refilled at capacity per `period` ms.
-- KEYS[1] = HASH { tokens, at }
-- ARGV    = capacity, period (ms)
-- Returns 1 when a token was taken, else 0.
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, capacity, period = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call("HMGET", key, "tokens", "at")
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - at) * capacity / period)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call("HSET", key, "tokens", tostring(tokens), "at", now)
redis.call("PEXPIRE", key, period * 2)
return taken
