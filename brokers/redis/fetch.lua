-- fetch.lua: hands up to `max` ready messages to one consumer, lowest priority number first.
-- KEYS[1]  base `ns:q`
-- KEYS[2]  this consumer's acks set `ns:__acks__.<cid>.<q>` (its delay-queue set: this + `.DQ`)
-- KEYS[3]  `ns:__heartbeats__`
-- KEYS[4]  `ns:__dramats_consumers__`
-- ARGV     max, consumer id, queue name, move limit (delayed ids moved per call), max body
--          size in bytes (0: none), dead-message TTL (ms), hold (see below), '1' to return held
--          messages' bodies (else ''), then the rids this consumer finished since its last call
--          (acked first, as ack.lua does)
-- Returns  { wait, held, etas, rid, body or '', due in (ms) x held, rid1, payload1, rid2, payload2,
--          ..., rid, eta x etas }: the etas of the taken messages that were delayed (kept in
--          `ns:q:etas` from when they became ready, and forgotten once handed out)
--          where `wait` is the ms until the next delayed message of `ns:q:delayed` is due (-1:
--          none; 0: more are due now; only computed when nothing was taken, as only an empty
--          fetch waits), and `held` counts the delay-queue messages taken to hold.
--
-- Dramatiq's delay queue `ns:q.DQ` (Python's delays, and ours by default), by `hold`:
--   hold >= 0: take up to `hold` ids into the consumer's acks set `<acks>.DQ` and return them
--     with the ms until their eta: the consumer holds them and moves each to `ns:q` at its eta
--     (delay-queue.lua), as a Dramatiq worker's delay-queue consumer does (worker.py:346-362; its
--     fetch is dispatch.lua:154-175). Held ids stay Dramatiq's: a consumer that dies or closes
--     gives them back to `ns:q.DQ`, where Python workers find them.
--   hold < 0 (`delays: "zset"`): move them into our sorted set `ns:q:delayed`, keyed by eta
--     (read by dramats consumers only).
-- Due ids of `ns:q:delayed` move to their level (atomically: an id is never in two places).
-- A fetch is also a heartbeat and (re)registers the consumer, so a consumer wrongly reaped
-- comes back.
-- A body over the size limit (a raw or Python producer can write one) is dead-lettered here
-- with the reason decode would give: the worker never receives it, so its event loop is never
-- held by parsing megabytes it would refuse anyway.
-- Carrying the acks saves a script call (and a round trip) per batch of messages.
local base, acks = KEYS[1], KEYS[2]
local max, cid, qname, move_limit = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local max_size, dead_ttl, hold = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()
redis.call('ZADD', KEYS[3], now, cid)
redis.call('HSET', KEYS[4], cid, qname)
local held_bodies = ARGV[8] == '1'
if #ARGV > 8 then ack_held(base, acks, ARGV, 9) end

local function eta_of(body)
  local ok, msg = pcall(cjson.decode, body)
  if ok and type(msg) == 'table' and type(msg.options) == 'table' and type(msg.options.eta) == 'number' then
    return msg.options.eta
  end
  return now -- unreadable or missing eta: due now (worker.py:369-378 does the same)
end

local dq = base .. '.DQ'
local pending = 0
local held_out = {}
if hold >= 0 then
  -- Held until their eta by this consumer.
  local ids = hold > 0 and redis.call('LPOP', dq, math.min(hold, move_limit)) or false
  if ids then
    redis.call('SADD', acks .. '.DQ', unpack(ids))
    local bodies = redis.call('HMGET', dq .. '.msgs', unpack(ids))
    for j, rid in ipairs(ids) do
      local body = bodies[j]
      if body then
        held_out[#held_out + 1] = rid
        held_out[#held_out + 1] = held_bodies and body or ''
        held_out[#held_out + 1] = math.max(0, eta_of(body) - now)
      else
        redis.call('SREM', acks .. '.DQ', rid)
      end
    end
  end
else
  -- Into our delay set, keyed by eta.
  pending = redis.call('LLEN', dq)
  for _ = 1, math.min(pending, move_limit) do
    local rid = redis.call('LPOP', dq)
    if not rid then break end
    local body = redis.call('HGET', dq .. '.msgs', rid)
    if body then
      local eta = eta_of(body)
      -- Python writes `"queue_name":"q.DQ"` first: make the stored copy a message of q.
      local dq_prefix = '{"queue_name":"' .. qname .. '.DQ"'
      if string.sub(body, 1, #dq_prefix) == dq_prefix then
        body = '{"queue_name":"' .. qname .. '"' .. string.sub(body, #dq_prefix + 1)
      end
      if redis.call('HSETNX', base .. '.msgs', rid, body) == 1 then
        redis.call('ZADD', base .. ':delayed', eta, rid)
      end
      redis.call('HDEL', dq .. '.msgs', rid)
    end
  end
end

-- Due delayed messages become ready.
local due = redis.call('ZRANGEBYSCORE', base .. ':delayed', '-inf', now, 'WITHSCORES', 'LIMIT', 0, move_limit)
for i = 1, #due, 2 do
  local rid = due[i]
  redis.call('ZREM', base .. ':delayed', rid)
  if redis.call('HEXISTS', base .. '.msgs', rid) == 1 then
    note_eta(base, rid, due[i + 1])
    make_ready(base, rid, priority_of(base, rid), false)
  end
end

-- Take from the levels in priority order: negative levels, Dramatiq's list (0), positive.
local levels = redis.call('ZRANGE', base .. ':levels', 0, -1)
local order, zero_done = {}, false
for _, l in ipairs(levels) do
  local p = tonumber(l)
  if p > 0 and not zero_done then order[#order + 1] = 0; zero_done = true end
  if p ~= 0 then order[#order + 1] = p end
end
if not zero_done then order[#order + 1] = 0 end

local taken = {}
for _, p in ipairs(order) do
  local want = max - #taken
  if want <= 0 then break end
  local key = level_key(base, p)
  local ids = redis.call('LPOP', key, want)
  if ids then
    for _, rid in ipairs(ids) do taken[#taken + 1] = rid end
  end
  if p ~= 0 and (not ids or #ids < want) then redis.call('ZREM', base .. ':levels', p) end
end

local out = { -1, #held_out / 3, 0 }
local etas_out = {}
local etas_key = base .. ':etas'
local has_etas = redis.call('EXISTS', etas_key) == 1
for _, v in ipairs(held_out) do out[#out + 1] = v end
for i = 1, #taken, CHUNK do
  local part = {}
  for j = i, math.min(i + CHUNK - 1, #taken) do part[#part + 1] = taken[j] end
  redis.call('SADD', acks, unpack(part))
  local bodies = redis.call('HMGET', base .. '.msgs', unpack(part))
  if has_etas then
    local etas = redis.call('HMGET', etas_key, unpack(part))
    local found = {}
    for j, rid in ipairs(part) do
      if etas[j] then
        found[#found + 1] = rid
        etas_out[#etas_out + 1] = rid
        etas_out[#etas_out + 1] = etas[j]
      end
    end
    if #found > 0 then redis.call('HDEL', etas_key, unpack(found)) end
  end
  for j, rid in ipairs(part) do
    local body = bodies[j]
    if body and max_size > 0 and #body > max_size then
      redis.call('SREM', acks, rid)
      redis.call('HSET', base .. '.XQ.msgs', rid, body)
      redis.call('ZADD', base .. '.XQ', now, rid)
      redis.call('HSET', base .. ':reasons', rid, 'MessageTooLarge: Message of ' .. #body .. ' bytes exceeds the limit of ' .. max_size .. ' bytes')
      forget(base, rid)
      trim_dead(base, now, dead_ttl, 100)
    elseif body then
      out[#out + 1] = rid
      out[#out + 1] = body
    else
      -- An id whose payload is gone (flushed by another client): drop it.
      redis.call('SREM', acks, rid)
      redis.call('HDEL', base .. ':prio', rid)
    end
  end
end

-- Others may be waiting while more messages are ready: pass the wake-up on.
if #taken == max and max > 0 then wake(base) end

out[3] = #etas_out / 2
for _, v in ipairs(etas_out) do out[#out + 1] = v end

if #due == move_limit * 2 or pending > move_limit then
  out[1] = 0
elseif #taken == 0 then
  local first = redis.call('ZRANGE', base .. ':delayed', 0, 0, 'WITHSCORES')
  if first[2] ~= nil then out[1] = math.max(0, tonumber(first[2]) - now) end
end
return out
