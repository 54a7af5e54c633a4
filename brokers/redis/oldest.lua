-- oldest.lua: since when the oldest ready message of a queue is due (for a scrape-time gauge).
-- KEYS[1]  base `ns:q`
-- Returns  epoch ms: the smallest, over the head of each priority level (Dramatiq's list `ns:q`
--          and dramats' levels), of its eta when it was delayed (`ns:q:etas`), else its
--          `message_timestamp`; -1 when nothing is ready. A head whose payload does not decode
--          counts from now.
local base = KEYS[1]
local now = now_ms()
local oldest = -1
local function consider(key)
  local rid = redis.call('LINDEX', key, 0)
  if not rid then return end
  local at = tonumber(redis.call('HGET', base .. ':etas', rid))
  if not at then
    local body = redis.call('HGET', base .. '.msgs', rid)
    local ok, msg = pcall(cjson.decode, body or '')
    at = (ok and type(msg) == 'table' and tonumber(msg.message_timestamp)) or now
  end
  if oldest < 0 or at < oldest then oldest = at end
end
consider(base)
for _, l in ipairs(redis.call('ZRANGE', base .. ':levels', 0, -1)) do
  local p = tonumber(l)
  if p ~= 0 then consider(level_key(base, p)) end
end
return oldest
