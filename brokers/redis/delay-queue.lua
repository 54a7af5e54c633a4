-- delay-queue.lua: what a consumer does with the ids of Dramatiq's delay queue it holds (taken
-- by fetch.lua into `<acks>.DQ` with `hold` >= 0).
-- KEYS[1]  base `ns:q`
-- KEYS[2]  the consumer's acks set `ns:__acks__.<cid>.<q>` (the held ids are in this + `.DQ`)
-- ARGV[1]  mode:
--   'promote': ARGV[2] is the queue name, then pairs follow: rid, priority. Each id still held
--     moves from `ns:q.DQ.msgs` to `ns:q.msgs` and becomes ready, under the same id, in one step,
--     as a message of `q` without `eta` (see ready_body). Dramatiq's worker does the same with an
--     enqueue then an ack (worker.py:356-361); here no crash between the two can run it twice.
--     The eta goes to `ns:q:etas` (rid -> eta), which fetch.lua hands to the worker: the
--     message stays byte for byte what Dramatiq's worker would enqueue.
--   'return': the rids that follow go back to `ns:q.DQ` (Dramatiq's requeue, dispatch.lua:178-188).
--   'except': every held id but those that follow goes back (after a reconnection, ids whose
--     fetch reply was lost are held in Redis but unknown to the consumer).
-- Returns  how many ids were promoted or given back.
local base, dq_acks = KEYS[1], KEYS[2] .. '.DQ'
local dq = base .. '.DQ'
local n = 0

-- A delay-queue payload as a ready message of `q`: `queue_name` back to `q` (worker.py:356-357)
-- and `eta` dropped (worker.py:358) when it is the last option, as Dramatiq and dramats write it
-- (redis.py:166-180). A body of another shape stays as it is: dramats' decode drops an eta, and
-- Dramatiq's worker runs a message whose eta has passed at once (worker.py:346-384).
local function ready_body(body, qname)
  local eta = nil
  local dq_prefix = '{"queue_name":"' .. qname .. '.DQ",'
  if string.sub(body, 1, #dq_prefix) == dq_prefix then
    body = '{"queue_name":"' .. qname .. '",' .. string.sub(body, #dq_prefix + 1)
  end
  -- The last `},"message_id":"` closes the top-level options (a nested message comes before it).
  local last, from = nil, 1
  while true do
    local at = string.find(body, '},"message_id":"', from, true)
    if not at then break end
    last, from = at, at + 1
  end
  if last then
    local head = string.sub(body, 1, last - 1)
    local at = string.find(head, ',"eta":%-?[%d%.eE%+%-]+$')
    if at then
      eta = tonumber(string.sub(head, at + 7))
      body = string.sub(head, 1, at - 1) .. string.sub(body, last)
    end
  end
  return body, eta
end

if ARGV[1] == 'promote' then
  local qname = ARGV[2]
  for i = 3, #ARGV, 2 do
    local rid = ARGV[i]
    local body = redis.call('HGET', dq .. '.msgs', rid)
    if redis.call('SREM', dq_acks, rid) == 1 and body then
      redis.call('HDEL', dq .. '.msgs', rid)
      local ready, eta = ready_body(body, qname)
      if redis.call('HSETNX', base .. '.msgs', rid, ready) == 1 then
        if eta then note_eta(base, rid, eta) end
        local p = tonumber(ARGV[i + 1])
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
return give_back_dq(base, dq_acks, rids)
