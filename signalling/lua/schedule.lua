-- schedule.lua — mentors' availability, bookings, reminders, session rooms and notifications (schedule.c).
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys: those a request names alone are KEYS (availability, notifications, the .ics booking); bookings and
-- mentors' calendars that a rule walks (overlaps, parties, reminders) are built inside from the ids in args.

local booking_obj, brief, fail, hash = lib.booking_obj, lib.brief, lib.fail, lib.hash
local is_online, jarr, may_book, mentor_circles = lib.is_online, lib.jarr, lib.may_book, lib.mentor_circles
local now_ms, other_party, private_room_close, private_room_set = lib.now_ms, lib.other_party, lib.private_room_close, lib.private_room_set

-- writes: (re)arms the reminders of booking bid starting at `start`: one per offset (args from `first`),
-- skipping those already due
local function arm(bid, start, first, now, args)
  for i = first, #args do
    local due = (start - tonumber(args[i])) * 1000
    if due > now then redis.call('ZADD', 'sched:reminders', due, bid .. '|' .. args[i])
    else redis.call('ZREM', 'sched:reminders', bid .. '|' .. args[i]) end
  end
end
local function taken(mentor, start, gap, except)
  local near = redis.call('ZRANGEBYSCORE', 'sched:mentor:' .. mentor .. ':booked',
    '(' .. (start - gap), '(' .. (start + gap))
  for _, bid in ipairs(near) do if bid ~= except then return true end end
  return false
end
local function busy(uid, start, finish, except)
  for _, bid in ipairs(redis.call('ZRANGEBYSCORE', 'user:' .. uid .. ':bookings', start - 86400,
      '(' .. finish)) do
    if bid ~= except then
      local f = redis.call('HMGET', 'booking:' .. bid, 'status', 'end')
      if f[1] == 'booked' and tonumber(f[2]) > start then return true end
    end
  end
  return false
end
local function tell(b, ev)
  local text = cjson.encode(ev)
  redis.call('PUBLISH', 'ev:u:' .. b.mentor.id, text)
  redis.call('PUBLISH', 'ev:u:' .. b.mentee.id, text)
end
-- the booking bid as seen by uid, or nil and an error (not found, not a party, not active, started)
local function active_booking(bid, uid, now)
  local h = hash('booking:' .. bid)
  if not h.mentor then return nil, fail('not_found', 'no such booking') end
  if not other_party(h, uid) then return nil, fail('forbidden', 'not your booking') end
  if h.status ~= 'booked' then return nil, fail('conflict', 'this booking was cancelled') end
  if tonumber(h.start) * 1000 <= now then
    return nil, fail('conflict', 'this session has already started')
  end
  return h, nil
end

-- keys: sched:avail:<uid>. args: uid, rules JSON (canonical)
lib.register('schedule_availability_set', {}, function(keys, args)
  local uid = args[1]
  if #mentor_circles(uid) == 0 then
    return fail('forbidden', 'only mentors (role mentor in a circle) publish availability')
  end
  redis.call('SET', keys[1], args[2])
  return '{"availability":' .. args[2] .. '}'
end)

-- keys: user:<mentor>, sched:avail:<mentor>. args: mentor. The stored text is returned as is: cjson would
-- turn an empty windows array into {}.
lib.register('schedule_availability_get', {'no-writes'}, function(keys, args)
  local m = args[1]
  if redis.call('EXISTS', keys[1]) == 0 then return fail('not_found', 'no such user') end
  local a = redis.call('GET', keys[2]) or 'null'
  return '{"mentor":' .. cjson.encode(brief(m)) .. ',"availability":' .. a .. '}'
end)

-- args: mentor, from, to → {rules text or '', active booking starts in [from, to]}
lib.register('schedule_load', {'no-writes'}, function(keys, args)
  local m = args[1]
  local out = {redis.call('GET', 'sched:avail:' .. m) or ''}
  for _, s in ipairs(redis.call('ZRANGEBYSCORE', 'sched:mentor:' .. m .. ':booked', args[2], args[3],
      'WITHSCORES')) do out[#out + 1] = s end
  return out
end)

-- args: bid, mentee, mentor, start, end, topic, gap seconds, reminder offsets (seconds)…
lib.register('schedule_book', {}, function(keys, args)
  local bid, uid, m, topic = args[1], args[2], args[3], args[6]
  local start, gap = tonumber(args[4]), tonumber(args[7])
  if not may_book(uid, m) then
    return fail('forbidden', 'you can book a mentor of a circle you belong to')
  end
  if taken(m, start, gap, nil) then return fail('conflict', 'this slot is already booked') end
  if busy(uid, start, tonumber(args[5]), nil) then
    return fail('conflict', 'you already have a session at that time')
  end
  if busy(m, start, tonumber(args[5]), nil) then
    return fail('conflict', 'the mentor already has a session at that time')
  end
  local now = now_ms()
  local nows = string.format('%d', now)
  redis.call('HSET', 'booking:' .. bid, 'mentor', m, 'mentee', uid, 'start', args[4], 'end', args[5],
    'topic', topic, 'status', 'booked', 'sequence', '0', 'created', nows, 'updated', nows)
  redis.call('ZADD', 'sched:mentor:' .. m .. ':booked', start, bid)
  redis.call('ZADD', 'user:' .. m .. ':bookings', start, bid)
  redis.call('ZADD', 'user:' .. uid .. ':bookings', start, bid)
  arm(bid, start, 8, now, args)
  local b = booking_obj(bid)
  tell(b, {type = 'schedule.booked', booking = b})
  return cjson.encode({booking = b})
end)

-- args: uid, bid, reminder offsets…
lib.register('schedule_cancel', {}, function(keys, args)
  local uid, bid, now = args[1], args[2], now_ms()
  local h, e = active_booking(bid, uid, now)
  if e then return e end
  redis.call('HSET', 'booking:' .. bid, 'status', 'cancelled', 'updated', string.format('%d', now),
    'cancelled_by', uid)
  redis.call('HINCRBY', 'booking:' .. bid, 'sequence', 1)
  redis.call('ZREM', 'sched:mentor:' .. h.mentor .. ':booked', bid)
  for i = 3, #args do redis.call('ZREM', 'sched:reminders', bid .. '|' .. args[i]) end
  private_room_close(bid)
  local b = booking_obj(bid)
  tell(b, {type = 'schedule.cancelled', booking = b, by = uid})
  return cjson.encode({booking = b})
end)

-- args: uid, bid → {booking} if uid may still change it
lib.register('schedule_active', {'no-writes'}, function(keys, args)
  local _, e = active_booking(args[2], args[1], now_ms())
  if e then return e end
  return cjson.encode({booking = booking_obj(args[2])})
end)

-- args: uid, bid, new start, new end, gap seconds, reminder offsets…
lib.register('schedule_reschedule', {}, function(keys, args)
  local uid, bid, now = args[1], args[2], now_ms()
  local start, gap = tonumber(args[3]), tonumber(args[5])
  local h, e = active_booking(bid, uid, now)
  if e then return e end
  if taken(h.mentor, start, gap, bid) then return fail('conflict', 'this slot is already booked') end
  for _, who in ipairs({h.mentor, h.mentee}) do
    if busy(who, start, tonumber(args[4]), bid) then
      return fail('conflict', 'one of you already has a session at that time')
    end
  end
  local old = tonumber(h.start)
  redis.call('HSET', 'booking:' .. bid, 'start', args[3], 'end', args[4], 'updated',
    string.format('%d', now))
  redis.call('HINCRBY', 'booking:' .. bid, 'sequence', 1)
  redis.call('ZADD', 'sched:mentor:' .. h.mentor .. ':booked', start, bid)
  redis.call('ZADD', 'user:' .. h.mentor .. ':bookings', start, bid)
  redis.call('ZADD', 'user:' .. h.mentee .. ':bookings', start, bid)
  arm(bid, start, 6, now, args)
  private_room_close(bid) -- it opens again around the new time (session.join)
  local b = booking_obj(bid)
  tell(b, {type = 'schedule.rescheduled', booking = b, old_start = old, by = uid})
  return cjson.encode({booking = b})
end)

-- args: uid. The latest 200 bookings; upcoming (not ended) ascending, past descending.
lib.register('schedule_mine', {'no-writes'}, function(keys, args)
  local uid, now = args[1], now_ms()
  local ids = redis.call('ZREVRANGE', 'user:' .. uid .. ':bookings', 0, 199)
  local up, past = {}, {}
  for _, bid in ipairs(ids) do
    local b = booking_obj(bid)
    if b then
      b.role = (b.mentor.id == uid) and 'mentor' or 'mentee'
      if b['end'] * 1000 > now then table.insert(up, 1, cjson.encode(b))
      else past[#past + 1] = cjson.encode(b) end
    end
  end
  return '{"upcoming":' .. jarr(up) .. ',"past":' .. jarr(past) .. '}'
end)

-- args: uid, bid, seconds the room opens before the start, seconds it stays open after the end
lib.register('session_join', {}, function(keys, args)
  local uid, bid, now = args[1], args[2], now_ms()
  local h = hash('booking:' .. bid)
  if not h.mentor then return fail('not_found', 'no such booking') end
  local peer = other_party(h, uid)
  if not peer then return fail('forbidden', 'only the mentor and the mentee join this session') end
  if h.status ~= 'booked' then return fail('conflict', 'this booking was cancelled') end
  local opens = tonumber(h.start) - tonumber(args[3])
  local closes = tonumber(h['end']) + tonumber(args[4])
  if now < opens * 1000 then return fail('conflict', 'not open yet: the room opens 5 minutes before the start') end
  if now >= closes * 1000 then return fail('conflict', 'this session is over') end
  private_room_set(bid, 'Mentoring session', h.mentor, h.mentee, opens, closes)
  return cjson.encode({booking = booking_obj(bid), peer = brief(peer), opens_at = opens,
    closes_at = closes, open = true, room = bid})
end)

-- Claims up to 100 due reminders (ZRANGEBYSCORE + ZREM in one step: exactly one node sends each) and
-- sends them: an event on ev:u of both parties, an entry in their notification history, and a copy
-- that waits in notif:<uid>:pending for a party who is offline. → number sent.
lib.register('schedule_tick', {}, function(keys, args)
  local now = now_ms()
  local due = redis.call('ZRANGEBYSCORE', 'sched:reminders', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 100)
  local sent = 0
  for i = 1, #due, 2 do
    redis.call('ZREM', 'sched:reminders', due[i])
    local bid, off = string.match(due[i], '^(%x+)|(%d+)$')
    local b = bid and booking_obj(bid)
    if b and b.status == 'booked' and (b.start - tonumber(off)) * 1000 == tonumber(due[i + 1]) then
      local secs = tonumber(off)
      local ev = cjson.encode({type = 'schedule.reminder', booking = b, minutes = math.floor(secs / 60),
        seconds = secs})
      for _, uid in ipairs({b.mentor.id, b.mentee.id}) do
        redis.call('PUBLISH', 'ev:u:' .. uid, ev)
        redis.call('LPUSH', 'notif:' .. uid, cjson.encode({at = now, kind = 'schedule.reminder',
          event = cjson.decode(ev)}))
        redis.call('LTRIM', 'notif:' .. uid, 0, 99)
        if not is_online(uid, now) then
          redis.call('RPUSH', 'notif:' .. uid .. ':pending', ev)
          redis.call('LTRIM', 'notif:' .. uid .. ':pending', -100, -1)
        end
      end
      sent = sent + 1
    end
  end
  return sent
end)

-- keys: notif:<uid>:pending → the events that waited, oldest first (and they wait no more)
lib.register('schedule_pending', {}, function(keys)
  local k = keys[1]
  local evs = redis.call('LRANGE', k, 0, -1)
  redis.call('DEL', k)
  return evs
end)

-- keys: notif:<uid> → the latest 50 notifications
lib.register('notifications_list', {'no-writes'}, function(keys)
  local items = redis.call('LRANGE', keys[1], 0, 49)
  return '{"notifications":[' .. table.concat(items, ',') .. ']}'
end)

-- keys: caltoken:<hash> (a calendar token's key: accounts.lua; never a session), booking:<bid>. args: bid
-- → {booking} for a party of the booking
lib.register('schedule_ics', {'no-writes'}, function(keys, args)
  local uid = redis.call('GET', keys[1])
  if not uid then return fail('unauthorized', 'no such calendar token') end
  local h = hash(keys[2])
  if not h.mentor then return fail('not_found', 'no such booking') end
  if not other_party(h, uid) then return fail('forbidden', 'not your booking') end
  return cjson.encode(booking_obj(args[1]))
end)

-- keys: caltoken:<hash>. → {"bookings": [booking…]}: the latest 200 bookings of the token's user, for a
-- webcal: subscription (GET /ics/feed.ics). The bookings are built inside from the user's bookings index.
lib.register('schedule_ics_feed', {'no-writes'}, function(keys)
  local uid = redis.call('GET', keys[1])
  if not uid then return fail('unauthorized', 'no such calendar token') end
  local items = {}
  for _, bid in ipairs(redis.call('ZREVRANGE', 'user:' .. uid .. ':bookings', 0, 199)) do
    local b = booking_obj(bid)
    if b then items[#items + 1] = cjson.encode(b) end
  end
  return '{"bookings":' .. jarr(items) .. '}'
end)
