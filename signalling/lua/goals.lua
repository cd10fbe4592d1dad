-- goals.lua — what goals.c needs from Redis before it touches PostgreSQL: who the requester is (admin or
-- not, display name), whether the other person exists, who a booking is between, and a mentorship's pair:
-- their bookings (the history lists them) and one of their mentoring notes (mentoring.lua keeps them).
-- Part of the staffroom library (lib.lua explains how it is put together). Read-only.

local brief, is_admin, hash, jarr = lib.brief, lib.is_admin, lib.hash, lib.jarr
local other_party, pair_key = lib.other_party, lib.pair_key

-- args: requester uid, other uid ('' for none), booking id ('' for none).
-- {"me":{brief},"admin":bool,"other":{brief}|false,"booking":{"mentor","mentee","start"}|false}
lib.register('goals_who', {'no-writes'}, function(_, args)
  local out = {me = brief(args[1]), admin = is_admin(args[1]), other = false, booking = false}
  if args[2] ~= '' and redis.call('EXISTS', 'user:' .. args[2]) == 1 then out.other = brief(args[2]) end
  if args[3] ~= '' then
    local f = redis.call('HMGET', 'booking:' .. args[3], 'mentor', 'mentee', 'start')
    if f[1] then out.booking = {mentor = f[1], mentee = f[2], start = tonumber(f[3]) or 0} end
  end
  return cjson.encode(out)
end)

-- the booking objects between a and b (either role, any status), by start; at most the newest 1000 of a's
local function pair_sessions(a, b)
  local out = {}
  local ids = redis.call('ZREVRANGE', 'user:' .. a .. ':bookings', 0, 999)
  for i = #ids, 1, -1 do
    local h = hash('booking:' .. ids[i])
    if h.mentor and other_party(h, a) == b then
      out[#out + 1] = {id = ids[i], start = tonumber(h.start) or 0, ['end'] = tonumber(h['end']) or 0,
        status = h.status or 'booked', topic = h.topic or ''}
    end
  end
  return out
end

-- the note number n ('' for none) of the pair a, b; false if it has none such
local function pair_note(a, b, n)
  n = tonumber(n)
  if not n then return false end
  for _, text in ipairs(redis.call('LRANGE', pair_key(a, b) .. ':notes', 0, -1)) do
    local note = cjson.decode(text)
    if note.id == n then return {id = note.id, text = note.text, at = note.at, kind = note.kind} end
  end
  return false
end

-- args: mentor, mentee (a mentorship's two people, checked by goals.c), note number ('' for none).
-- {"sessions":[{id, start, end, status, topic}…] (the pair's bookings), "note":{id, text, at, kind}|false}
lib.register('goals_pair', {'no-writes'}, function(_, args)
  local sessions = pair_sessions(args[2], args[1])
  local enc = {}
  for i, s in ipairs(sessions) do enc[i] = cjson.encode(s) end
  return '{"sessions":' .. jarr(enc) .. ',"note":' .. cjson.encode(pair_note(args[1], args[2], args[3])) .. '}'
end)
