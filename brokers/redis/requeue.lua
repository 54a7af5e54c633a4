-- requeue.lua: gives held messages back, ahead of the others of their priority.
-- KEYS[1]  base `ns:q`
-- KEYS[2]  the consumer's acks set
-- ARGV[1]  mode: "ids" = the rids that follow; "except" = every held id except those that
--          follow (after a reconnect, ids fetched by a call whose reply was lost are held
--          in Redis but unknown to the consumer: this returns them)
-- Returns  how many became ready again.
local base, acks = KEYS[1], KEYS[2]
local rids = {}
if ARGV[1] == 'ids' then
  for i = 2, #ARGV do rids[#rids + 1] = ARGV[i] end
else
  local keep = {}
  for i = 2, #ARGV do keep[ARGV[i]] = true end
  for _, rid in ipairs(redis.call('SMEMBERS', acks)) do
    if not keep[rid] then rids[#rids + 1] = rid end
  end
end
return requeue_list(base, acks, rids)
