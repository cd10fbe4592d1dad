-- goals.lua — what goals.c needs from Redis before it touches PostgreSQL: who the requester is (admin or
-- not, display name), whether the other person exists, and who a booking is between.
-- Part of the staffroom library (lib.lua explains how it is put together). Read-only.

local brief, is_admin = lib.brief, lib.is_admin

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
