-- mentoring.lua — a mentor's and mentee's shared notes (mentoring.c): mentoring:<a>:<b>:notes (+ :seq).
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside: the pair key is ordered here (lib.pair_key) and the pair's bookings are found
-- through the user's bookings.

local booking_obj, brief, fail, hash = lib.booking_obj, lib.brief, lib.fail, lib.hash
local jarr, now_ms, other_party, pair_key = lib.jarr, lib.now_ms, lib.other_party, lib.pair_key

-- the bookings of uid with other (booking objects, by start), found through uid's bookings
local function pair_sessions(uid, other)
  local out = {}
  for _, bid in ipairs(redis.call('ZRANGE', 'user:' .. uid .. ':bookings', 0, -1)) do
    local h = hash('booking:' .. bid)
    if h.mentor and other_party(h, uid) == other then out[#out + 1] = booking_obj(bid) end
  end
  return out
end

-- args: uid, other, kind, text
lib.register('mentoring_notes_add', {}, function(keys, args)
  local uid, other = args[1], args[2]
  if #pair_sessions(uid, other) == 0 then
    return fail('forbidden', 'notes are shared by a mentor and a mentee who have booked a session')
  end
  local key = pair_key(uid, other) .. ':notes'
  local note = {id = redis.call('INCR', pair_key(uid, other) .. ':seq'), by = brief(uid),
    kind = args[3], text = args[4], at = now_ms()}
  redis.call('RPUSH', key, cjson.encode(note))
  redis.call('LTRIM', key, -1000, -1)
  local ev = cjson.encode({type = 'mentoring.note', with = brief(uid), note = note})
  redis.call('PUBLISH', 'ev:u:' .. other, ev)
  return cjson.encode({note = note})
end)

-- args: uid, other
lib.register('mentoring_notes_list', {'no-writes'}, function(keys, args)
  local uid, other = args[1], args[2]
  local sessions = pair_sessions(uid, other)
  if #sessions == 0 then
    return fail('forbidden', 'notes are shared by a mentor and a mentee who have booked a session')
  end
  local enc = {}
  for i, b in ipairs(sessions) do enc[i] = cjson.encode(b) end
  local notes = redis.call('LRANGE', pair_key(uid, other) .. ':notes', 0, -1)
  return '{"with":' .. cjson.encode(brief(other)) .. ',"sessions":' .. jarr(enc) ..
    ',"notes":' .. jarr(notes) .. '}'
end)
