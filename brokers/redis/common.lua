-- common.lua: helpers prepended to every dramats script when it is registered (scripts.ts).
--
-- Key layout for namespace `ns` and queue `q`; `base` is always `ns:q`.
--   Shared with Python Dramatiq (its RedisBroker reads and writes these):
--     ns:q                     LIST  ids ready at priority 0, FIFO (Dramatiq's queue)
--     ns:q.msgs                HASH  id -> payload, from enqueue until ack/nack (ready, delayed, in flight)
--     ns:q.DQ, ns:q.DQ.msgs    LIST + HASH  delayed messages (`options.eta`, `queue_name` "q.DQ"), written
--                              by Python and by dramats with `delays: "dramatiq"` (the default)
--     ns:__acks__.<cid>.<q>.DQ SET   ids of ns:q.DQ a consumer holds until their eta (Python's or ours)
--     ns:q.XQ                  ZSET  dead id -> epoch ms of death
--     ns:q.XQ.msgs             HASH  dead id -> payload
--     ns:__acks__.<cid>.<q>    SET   ids consumer <cid> fetched and has not settled
--     ns:__heartbeats__        ZSET  consumer id -> epoch ms of its last heartbeat
--   dramats only (':' cannot occur in a queue name, so these never collide with Dramatiq's):
--     ns:q:delayed             ZSET  id -> eta (epoch ms); payload stays in ns:q.msgs (`delays: "zset"`)
--     ns:q:prio                HASH  id -> priority, only for priority != 0 (`priorities: "levels"`)
--     ns:q:levels              ZSET  priority -> priority, the non-zero levels that may hold ids
--     ns:q:level:<p>           LIST  ids ready at priority p != 0, FIFO
--     ns:q:wake                ZSET  one member: the wake-up marker idle consumers BZPOPMIN on
--     ns:q:wake:<cid>          ZSET  consumer <cid>'s own marker, set to end its wait early (expires in 10 s)
--     ns:q:reasons             HASH  dead id -> why it was dead-lettered
--     ns:__dramats_consumers__ HASH  consumer id -> queue name (registry of acks sets, so no KEYS)
--     ns:__dramats_seen__      HASH  foreign (Python) consumer id -> "<its score>:<Redis ms first seen with it>" (maintenance.lua)
--     ns:__dramats_workers__   ZSET  worker process id -> epoch ms of its last record (worker-registry.ts; no script)
--     ns:__dramats_worker__:<w> STRING that process's JSON record, PX its TTL (`dramats workers`)
--
-- Every script reads the clock from the server (TIME), so hosts with skewed clocks agree
-- on etas and heartbeats. Every script is idempotent: ioredis re-sends commands that were
-- in flight when a connection dropped, so any script may run twice.

local CHUNK = 1000 -- ids per variadic call, well under Lua's unpack limit

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function level_key(base, p)
  if p == 0 then return base end
  return base .. ':level:' .. p
end

local function priority_of(base, rid)
  local p = redis.call('HGET', base .. ':prio', rid)
  if p then return tonumber(p) end
  return 0
end

local function wake(base)
  redis.call('ZADD', base .. ':wake', 0, 'w')
end

-- Puts rid on its priority level: at the tail (new or due) or the head (given back).
local function make_ready(base, rid, p, head)
  local key = level_key(base, p)
  if head then redis.call('LPUSH', key, rid) else redis.call('RPUSH', key, rid) end
  if p ~= 0 then redis.call('ZADD', base .. ':levels', p, p) end
end

-- Stores one message; returns 0 when rid is already stored (a re-sent call).
-- `dq` says where a delayed one goes: '0' our sorted set `ns:q:delayed` (the fast path);
-- '1' Dramatiq's delay queue as Python's RedisBroker.enqueue writes it (redis.py:166-184,
-- dispatch.lua:145-150: HSET ns:q.DQ.msgs, RPUSH ns:q.DQ), `body` complete with its eta;
-- '2' the same, with the eta (server clock + delay) spliced between `body` and `tail`.
local function store(base, now, rid, body, p, delay, dq, tail)
  if delay > 0 and dq ~= '0' then
    local dqk = base .. '.DQ'
    if dq == '2' then body = body .. tostring(now + delay) .. tail end
    if redis.call('HSETNX', dqk .. '.msgs', rid, body) == 0 then return 0 end
    redis.call('RPUSH', dqk, rid)
    wake(base) -- a waiting dramats consumer takes it and holds it until its eta
    return 1
  end
  if redis.call('HSETNX', base .. '.msgs', rid, body) == 0 then return 0 end
  if p ~= 0 then redis.call('HSET', base .. ':prio', rid, p) end
  if delay > 0 then
    local eta = now + delay
    local first = redis.call('ZRANGE', base .. ':delayed', 0, 0, 'WITHSCORES')
    redis.call('ZADD', base .. ':delayed', eta, rid)
    -- Idle consumers sleep until the earliest eta: wake one to shorten its sleep.
    if first[2] == nil or eta < tonumber(first[2]) then wake(base) end
  else
    make_ready(base, rid, p, false)
    wake(base)
  end
  return 1
end

-- Gives `rids` held in a delay-queue acks set (`ns:__acks__.<cid>.<q>.DQ`) back to `ns:q.DQ`
-- (only those still held, and only while their payload exists), waking a consumer to take
-- them. Returns how many went back.
local function give_back_dq(base, dq_acks, rids)
  local n = 0
  for _, rid in ipairs(rids) do
    if redis.call('SREM', dq_acks, rid) == 1 and redis.call('HEXISTS', base .. '.DQ.msgs', rid) == 1 then
      redis.call('RPUSH', base .. '.DQ', rid)
      n = n + 1
    end
  end
  if n > 0 then wake(base) end -- a live consumer takes them to hold at once
  return n
end

-- Gives every id of a delay-queue acks set back, as Dramatiq's maintenance does for a dead
-- worker (dispatch.lua:110-127), and deletes the set. Returns how many went back.
local function requeue_dq(base, dq_acks)
  local n = give_back_dq(base, dq_acks, redis.call('SMEMBERS', dq_acks))
  redis.call('DEL', dq_acks)
  return n
end

-- Records the eta of a delayed message that became ready (`ns:q:etas`, read and deleted by
-- fetch.lua, for the wait metric). A message a Python worker runs is acked without a look at
-- this hash, so its entry stays: each write drops those of a few random entries whose payload
-- is gone, which keeps such leftovers fewer than the live entries.
local function note_eta(base, rid, eta)
  local key = base .. ':etas'
  for _, old in ipairs(redis.call('HRANDFIELD', key, 3)) do
    if redis.call('HEXISTS', base .. '.msgs', old) == 0 then redis.call('HDEL', key, old) end
  end
  redis.call('HSET', key, rid, eta)
end

-- Removes rid's payload once it left every structure.
local function forget(base, rid)
  redis.call('HDEL', base .. '.msgs', rid)
  redis.call('HDEL', base .. ':prio', rid)
end

-- Forgets the messages of `rids` (from index `from` on) that `acks` still holds. An id no
-- longer held (requeued after the consumer was taken for dead, or acked by an earlier run of
-- the same call) is left alone, so its payload is never removed from under the consumer that
-- now holds it. Returns how many were still held.
local function ack_held(base, acks, rids, from)
  local settled = 0
  for i = from, #rids, CHUNK do
    local part = {}
    for j = i, math.min(i + CHUNK - 1, #rids) do part[#part + 1] = rids[j] end
    local held = redis.call('SMISMEMBER', acks, unpack(part))
    local mine = {}
    for j, rid in ipairs(part) do
      if held[j] == 1 then mine[#mine + 1] = rid end
    end
    if #mine > 0 then
      redis.call('SREM', acks, unpack(mine))
      redis.call('HDEL', base .. '.msgs', unpack(mine))
      redis.call('HDEL', base .. ':prio', unpack(mine))
      settled = settled + #mine
    end
  end
  return settled
end

-- Gives ids held in `acks` back to the head of their level (only those still held, and
-- only while their payload exists). Returns how many became ready again.
local function requeue_held(base, acks, rids)
  local n = 0
  for i = #rids, 1, -1 do -- backwards, so LPUSH keeps their order
    local rid = rids[i]
    if redis.call('SREM', acks, rid) == 1 then
      if redis.call('HEXISTS', base .. '.msgs', rid) == 1 then
        make_ready(base, rid, priority_of(base, rid), true)
        n = n + 1
      else
        redis.call('HDEL', base .. ':prio', rid)
      end
    end
  end
  if n > 0 then wake(base) end
  return n
end

-- requeue_held over any number of ids, in chunks taken from the end so order is kept.
local function requeue_list(base, acks, rids)
  local n = 0
  local last = #rids
  while last >= 1 do
    local first = math.max(1, last - CHUNK + 1)
    local part = {}
    for j = first, last do part[#part + 1] = rids[j] end
    n = n + requeue_held(base, acks, part)
    last = first - 1
  end
  return n
end

-- Gives back every id of an acks set and deletes it.
local function requeue_all(base, acks)
  local n = requeue_list(base, acks, redis.call('SMEMBERS', acks))
  redis.call('DEL', acks)
  return n
end

-- Drops dead letters older than the TTL (at most `limit` per call).
local function trim_dead(base, now, ttl, limit)
  local old = redis.call('ZRANGEBYSCORE', base .. '.XQ', '-inf', now - ttl, 'LIMIT', 0, limit)
  if #old == 0 then return 0 end
  redis.call('ZREM', base .. '.XQ', unpack(old))
  redis.call('HDEL', base .. '.XQ.msgs', unpack(old))
  redis.call('HDEL', base .. ':reasons', unpack(old))
  return #old
end
