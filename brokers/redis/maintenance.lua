-- maintenance.lua: one bounded step of recovery: requeues the messages of dead consumers and
-- trims old dead letters. Every live broker runs it on a timer, so recovery does not depend on
-- luck or traffic. Each part visits at most `limit` entries and resumes where the last pass
-- stopped (cursors kept by the caller), so its cost does not grow with the heartbeats set.
-- KEYS[1]  `ns:__heartbeats__`       consumer id -> last heartbeat (ms); Dramatiq's
-- KEYS[2]  `ns:__dramats_consumers__` dramats consumer id -> queue
-- KEYS[3]  `ns:__dramats_seen__`      foreign id -> "<score>:<Redis ms when first seen with it>"
-- ARGV     namespace prefix (`ns:`), heartbeat timeout (ms), dead-message TTL (ms), limit,
--          registry cursor, heartbeats cursor score ('' = start), its member, seen cursor,
--          then the queues this broker serves
-- Returns  { reaped, requeued, trimmed, forgotten, registry cursor, heartbeats cursor score,
--            its member, seen cursor, ms the most advanced foreign clock is ahead of Redis's }
--
-- 1. dramats consumers (the registry, HSCAN): their heartbeats are written with Redis TIME
--    (heartbeat.lua, fetch.lua), so one older than the timeout, or gone, is dead.
-- 2. Other ids in the heartbeats (Python Dramatiq processes: workers, and every producer, as
--    each of its commands writes one: dramatiq/brokers/redis/dispatch.lua:58) carry their host's
--    clock (dramatiq/brokers/redis.py:266), which may be minutes off. They are visited in turn,
--    in score order, `limit` per pass, wrapping around; one is dead once its score stayed the
--    same for the timeout measured on Redis's clock (a live Python process rewrites it on every
--    command), whatever its host's clock says. A dead one's acks sets for our queues are
--    requeued on each visit during RECHECK timeouts (brokers serving other queues get their
--    turn; usually none exist); later visits cost a lookup. Dead for longer than the
--    dead-message TTL, it is removed (Dramatiq removes it sooner, once no acks set of it is
--    left: dispatch.lua:126-131).
-- 3. Seen records whose id left the heartbeats are dropped, `limit` per pass.
local RECHECK = 10
local hb, registry, seen = KEYS[1], KEYS[2], KEYS[3]
local ns, timeout, ttl, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local reaped, requeued, trimmed, forgotten, ahead = 0, 0, 0, 0, 0
local queues = {}
for i = 9, #ARGV do queues[#queues + 1] = ARGV[i] end

-- 1. dramats consumers.
local scan = redis.call('HSCAN', registry, ARGV[5], 'COUNT', limit)
local registry_cursor, pairs = scan[1], scan[2]
if #pairs > 0 then
  local cids = {}
  for i = 1, #pairs, 2 do cids[#cids + 1] = pairs[i] end
  local scores = redis.call('ZMSCORE', hb, unpack(cids))
  for j, cid in ipairs(cids) do
    local score = scores[j]
    if not score or tonumber(score) <= now - timeout then
      local q = pairs[2 * j]
      requeued = requeued + requeue_all(ns .. q, ns .. '__acks__.' .. cid .. '.' .. q)
      -- Delayed messages it held until their eta (Dramatiq's layout): back to `ns:q.DQ`.
      requeued = requeued + requeue_dq(ns .. q, ns .. '__acks__.' .. cid .. '.' .. q .. '.DQ')
      redis.call('HDEL', registry, cid)
      redis.call('ZREM', hb, cid)
      reaped = reaped + 1
    end
  end
end

-- What a dead foreign consumer held on our queues goes back.
local function requeue_foreign(cid)
  local keys = {}
  for _, q in ipairs(queues) do
    keys[#keys + 1] = ns .. '__acks__.' .. cid .. '.' .. q
    keys[#keys + 1] = ns .. '__acks__.' .. cid .. '.' .. q .. '.DQ'
  end
  if #keys == 0 or redis.call('EXISTS', unpack(keys)) == 0 then return end
  for _, q in ipairs(queues) do
    local base = ns .. q
    requeued = requeued + requeue_all(base, ns .. '__acks__.' .. cid .. '.' .. q)
    -- Dramatiq's delay-queue consumers hold ids of `ns:q.DQ.msgs`: back to `ns:q.DQ`.
    requeued = requeued + requeue_dq(base, ns .. '__acks__.' .. cid .. '.' .. q .. '.DQ')
  end
end

-- 2. Foreign heartbeats, from the cursor on.
local from_score, from_member = ARGV[6], ARGV[7]
local batch
if from_score == '' then
  batch = redis.call('ZRANGE', hb, '-inf', '+inf', 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
else
  batch = redis.call('ZRANGE', hb, from_score, '+inf', 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
end
local next_score, next_member = '', ''
if #batch == 2 * limit then
  next_score, next_member = batch[#batch], batch[#batch - 1]
  -- More than `limit` ids on one score: step over that score next time.
  if from_score ~= '' and next_score == from_score and next_member == from_member then
    next_score, next_member = '(' .. from_score, ''
  end
end
local ids = {}
for i = 1, #batch, 2 do
  local score = batch[i + 1]
  -- Ids on the cursor's score up to its member were visited by the last pass.
  if not (score == from_score and batch[i] <= from_member) then ids[#ids + 1] = i end
end
if #ids > 0 then
  local cids = {}
  for _, i in ipairs(ids) do cids[#cids + 1] = batch[i] end
  local ours = redis.call('HMGET', registry, unpack(cids))
  local records = redis.call('HMGET', seen, unpack(cids))
  for j, cid in ipairs(cids) do
    if not ours[j] then
      local score = batch[ids[j] + 1]
      if tonumber(score) - now > ahead then ahead = tonumber(score) - now end
      local record = records[j]
      local sep = record and string.find(record, ':', 1, true)
      if not record or string.sub(record, 1, sep - 1) ~= score then
        redis.call('HSET', seen, cid, score .. ':' .. now)
      else
        local since = tonumber(string.sub(record, sep + 1))
        if now - since >= timeout then
          if now - since < RECHECK * timeout then requeue_foreign(cid) end
          if now - since >= ttl then
            redis.call('ZREM', hb, cid)
            redis.call('HDEL', seen, cid)
            forgotten = forgotten + 1
          end
        end
      end
    end
  end
end

-- 3. Seen records of ids no longer in the heartbeats.
local seen_scan = redis.call('HSCAN', seen, ARGV[8], 'COUNT', limit)
local seen_cursor, seen_pairs = seen_scan[1], seen_scan[2]
if #seen_pairs > 0 then
  local cids = {}
  for i = 1, #seen_pairs, 2 do cids[#cids + 1] = seen_pairs[i] end
  local scores = redis.call('ZMSCORE', hb, unpack(cids))
  for j, cid in ipairs(cids) do
    if not scores[j] then redis.call('HDEL', seen, cid) end
  end
end

for _, q in ipairs(queues) do
  trimmed = trimmed + trim_dead(ns .. q, now, ttl, 1000)
end
return { reaped, requeued, trimmed, forgotten, registry_cursor, next_score, next_member, seen_cursor, ahead }
