-- goals.lua — what goals.c needs from Redis before it touches PostgreSQL: who the requester is (admin or
-- not, display name), whether the other person exists, who a booking is between, and a mentorship's pair:
-- their bookings (the history lists them) and one of their mentoring notes (mentoring.lua keeps them).
-- Part of the staffroom library (lib.lua explains how it is put together). Read-only.

local brief, is_admin, jarr = lib.brief, lib.is_admin, lib.jarr
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

-- the bookings between a and b (either role, any status), by start; at most the newest 1000 of a's
local function pair_sessions(a, b)
  local out = {}
  local ids = redis.call('ZREVRANGE', 'user:' .. a .. ':bookings', 0, 999)
  for i = #ids, 1, -1 do
    local f = redis.call('HMGET', 'booking:' .. ids[i], 'mentor', 'mentee', 'start', 'end', 'status', 'topic')
    if f[1] and other_party({mentor = f[1], mentee = f[2]}, a) == b then
      out[#out + 1] = cjson.encode({id = ids[i], start = tonumber(f[3]) or 0, ['end'] = tonumber(f[4]) or 0,
        status = f[5] or 'booked', topic = f[6] or ''})
    end
  end
  return out
end

-- the note number n of the pair a, b; false if it has none such (the list keeps the newest 1000)
local function pair_note(a, b, n)
  n = tonumber(n)
  for _, text in ipairs(redis.call('LRANGE', pair_key(a, b) .. ':notes', 0, -1)) do
    local note = cjson.decode(text)
    if note.id == n then return {id = note.id, text = note.text, at = note.at, kind = note.kind} end
  end
  return false
end

-- args: mentor, mentee (a mentorship's two people, checked by goals.c), note number ('' for none).
-- With a note number: {"note":{id, text, at, kind}|false}; without: {"sessions":[{id, start, end, status,
-- topic}…]} (the pair's bookings, by start).
lib.register('goals_pair', {'no-writes'}, function(_, args)
  if args[3] ~= '' then return cjson.encode({note = pair_note(args[1], args[2], args[3])}) end
  return '{"sessions":' .. jarr(pair_sessions(args[2], args[1])) .. '}'
end)
