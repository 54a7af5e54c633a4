-- browse-scan.lua: one HSCAN step over a hash of payloads, for the queue browser
-- (queue-browser.ts): read-only, and short (one COUNT-sized step per call).
-- KEYS[1]  the hash: `ns:q.msgs`, `ns:q.DQ.msgs` or `ns:q.XQ.msgs`
-- ARGV[1]  the HSCAN cursor ('0' to start), ARGV[2] COUNT, ARGV[3] mode:
--   'etas'   returns { next cursor, rid, eta or false, ... }: each payload's `options.eta`
--            (false when the payload does not decode or has none)
--   'match'  ARGV[4..] are needles; returns { next cursor, rid, payload, ... } for the payloads
--            that contain one of them (plain substring search: the caller decodes and checks)
-- HSCAN may return a field twice over a walk: the caller keeps one of each.
local step = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', tonumber(ARGV[2]))
local fields = step[2]
local out = { step[1] }
if ARGV[3] == 'etas' then
  for i = 1, #fields, 2 do
    local ok, msg = pcall(cjson.decode, fields[i + 1])
    local eta = false
    if ok and type(msg) == 'table' and type(msg.options) == 'table' and type(msg.options.eta) == 'number' then
      eta = msg.options.eta
    end
    out[#out + 1] = fields[i]
    out[#out + 1] = eta
  end
else
  for i = 1, #fields, 2 do
    local body = fields[i + 1]
    for j = 4, #ARGV do
      if string.find(body, ARGV[j], 1, true) then
        out[#out + 1] = fields[i]
        out[#out + 1] = body
        break
      end
    end
  end
end
return out
