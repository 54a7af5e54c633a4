-- delay-queue.lua: what a consumer does with the ids of Dramatiq's delay queue it holds (taken
-- by fetch.lua into `<acks>.DQ` with `hold` >= 0).
-- KEYS[1]  base `ns:q`
-- KEYS[2]  the consumer's acks set `ns:__acks__.<cid>.<q>` (the held ids are in this + `.DQ`)
-- ARGV[1]  mode:
--   'promote': groups of 3 follow: rid, its payload as a ready message of `q` (no `eta`,
--     `queue_name` "q"), priority. Each id still held moves from `ns:q.DQ.msgs` to `ns:q.msgs`
--     and becomes ready, under the same id, in one step. Dramatiq's worker does the same with
--     an enqueue then an ack (worker.py:356-361); here no crash between the two can run it twice.
--   'return': the rids that follow go back to `ns:q.DQ` (Dramatiq's requeue, dispatch.lua:178-188).
--   'except': every held id but those that follow goes back (after a reconnection, ids whose
--     fetch reply was lost are held in Redis but unknown to the consumer).
-- Returns  how many ids were promoted or given back.
local base, dq_acks = KEYS[1], KEYS[2] .. '.DQ'
local dq = base .. '.DQ'
local n = 0
if ARGV[1] == 'promote' then
  for i = 2, #ARGV, 3 do
    local rid = ARGV[i]
    if redis.call('SREM', dq_acks, rid) == 1 and redis.call('HEXISTS', dq .. '.msgs', rid) == 1 then
      redis.call('HDEL', dq .. '.msgs', rid)
      if redis.call('HSETNX', base .. '.msgs', rid, ARGV[i + 1]) == 1 then
        local p = tonumber(ARGV[i + 2])
        if p ~= 0 then redis.call('HSET', base .. ':prio', rid, p) end
        make_ready(base, rid, p, false)
        n = n + 1
      end
    end
  end
  if n > 0 then wake(base) end
  return n
end

local rids = {}
if ARGV[1] == 'return' then
  for i = 2, #ARGV do rids[#rids + 1] = ARGV[i] end
else
  local keep = {}
  for i = 2, #ARGV do keep[ARGV[i]] = true end
  for _, rid in ipairs(redis.call('SMEMBERS', dq_acks)) do
    if not keep[rid] then rids[#rids + 1] = rid end
  end
end
for _, rid in ipairs(rids) do
  if redis.call('SREM', dq_acks, rid) == 1 and redis.call('HEXISTS', dq .. '.msgs', rid) == 1 then
    redis.call('RPUSH', dq, rid)
    n = n + 1
  end
end
if n > 0 then wake(base) end
return n
