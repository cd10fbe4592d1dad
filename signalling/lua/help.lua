-- help.lua — help requests (help.c): duty, requests and their statuses, the timeout sweep. Keys: help.h.
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside from the ids in args: a request leads to its circle, channel, call and the experts
-- offered it (found while running); the shared helpers take ids.

local brief, calls_busy, calls_open_active, circle_exists = lib.brief, lib.calls_busy, lib.calls_open_active, lib.circle_exists
local fail, hash, help_brief, help_duty_count = lib.fail, lib.hash, lib.help_brief, lib.help_duty_count
local help_on_duty, help_status, is_admin, jarr = lib.help_on_duty, lib.help_status, lib.is_admin, lib.jarr
local now_ms, presence_of, publish_circle, role_of = lib.now_ms, lib.presence_of, lib.publish_circle, lib.role_of

local function help_obj(rid)
  local h = hash('help:' .. rid)
  local by = cjson.null
  if h.taken_by then by = brief(h.taken_by) end
  return {id = rid, circle = h.circle, topic = h.topic, details = h.details or '',
    requester = brief(h.requester), status = help_status(h.status, h.call), taken_by = by,
    created = tonumber(h.created), message = h.message or cjson.null}
end
local function load(rid)
  local h = hash('help:' .. rid)
  if not h.status then return nil end
  h.id = rid
  return h
end
local function help_text(h)
  if (h.details or '') == '' then return h.topic end
  return h.topic .. '\n\n' .. h.details
end
local function help_msg(h)
  local text = redis.call('HGET', 'channel:' .. h.channel .. ':edits', h.message)
  return {id = h.message, channel = h.channel, user = brief(h.requester),
    text = text or help_text(h), ts = tonumber(string.match(h.message, '^(%d+)')),
    edited = text and true or false, help = help_brief(h.id)}
end
local function help_channel(cid)
  for _, chid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do
    if redis.call('HGET', 'channel:' .. chid, 'name') == 'help' then return chid end
  end
  return nil
end
-- a status change: chat.updated for the channel message, if the request has one
local function post_update(h)
  if not h.message then return end
  -- gone (its author deleted it) or a tombstone (a moderator removed it: its text must not come back)
  if #redis.call('XRANGE', 'channel:' .. h.channel .. ':log', h.message, h.message) == 0 or
     redis.call('HEXISTS', 'channel:' .. h.channel .. ':removed', h.message) == 1 then
    return
  end
  publish_circle(h.circle, {type = 'chat.updated', circle = h.circle, message = help_msg(h)})
end
local function set_status(h, status, by)
  h.status = status
  redis.call('HSET', 'help:' .. h.id, 'status', status)
  if by then h.taken_by = by; redis.call('HSET', 'help:' .. h.id, 'taken_by', by) end
  post_update(h)
end
local function tell_offered(h, ev, except)
  local s = cjson.encode(ev)
  for _, uid in ipairs(redis.call('SMEMBERS', 'help:' .. h.id .. ':offered')) do
    if uid ~= except then redis.call('PUBLISH', 'ev:u:' .. uid, s) end
  end
end
local function can_take(cid, uid, requester, now)
  return uid ~= requester and help_on_duty(cid, uid, now) and
    presence_of(uid, now) ~= 'in_call' and not calls_busy(uid)
end
-- writes: offers h to every expert who can take it now; the number offered
local function offer(h, now)
  local ev = cjson.encode({type = 'help.offer', request = help_obj(h.id)})
  local n = 0
  for _, uid in ipairs(redis.call('HKEYS', 'help:duty:' .. h.circle)) do
    if can_take(h.circle, uid, h.requester, now) then
      redis.call('SADD', 'help:' .. h.id .. ':offered', uid)
      redis.call('PUBLISH', 'ev:u:' .. uid, ev)
      n = n + 1
    end
  end
  return n
end
-- writes: with reach "online", tells each expert or mentor of the circle who is online but not on duty (and
-- not the asker, nor in a call) with the gentler help.nudge, and lets them accept it (the offered set).
-- Returns how many experts and mentors are online (the asker left out), nudged or not.
local function nudge(h, now, reach)
  local ev = cjson.encode({type = 'help.nudge', circle = h.circle, request = h.id, topic = h.topic,
    by = brief(h.requester)})
  local members, online = redis.call('HGETALL', 'circle:' .. h.circle .. ':members'), 0
  for i = 1, #members, 2 do
    local uid, role = members[i], members[i + 1]
    if uid ~= h.requester and (role == 'expert' or role == 'mentor') and presence_of(uid, now) ~= 'offline' then
      online = online + 1
      if reach == 'online' and not help_on_duty(h.circle, uid, now) and presence_of(uid, now) ~= 'in_call' and
         not calls_busy(uid) then
        redis.call('SADD', 'help:' .. h.id .. ':offered', uid)
        redis.call('PUBLISH', 'ev:u:' .. uid, ev)
      end
    end
  end
  return online
end
local function arm(h, now, timeout)
  local d = string.format('%d', now + timeout)
  redis.call('ZADD', 'help:deadlines', d, h.id)
  redis.call('HSET', 'help:' .. h.id, 'deadline', d)
end
-- the request rid as its asker uid may still change it (open or unanswered), or nil and an error
local function asker_may_change(rid, uid)
  local h = load(rid)
  if not h then return nil, fail('not_found', 'no such help request') end
  if h.requester ~= uid then return nil, fail('forbidden', 'only the person who asked may do this') end
  if h.status ~= 'open' and h.status ~= 'unanswered' then
    return nil, fail('conflict', 'this request is ' .. h.status)
  end
  return h
end

-- args: uid, device, cid, "1"|"0"
lib.register('help_duty', {}, function(keys, args)
  local uid, dev, cid, on = args[1], args[2], args[3], args[4] == '1'
  if not circle_exists(cid) then return fail('not_found', 'no such circle') end
  local role = role_of(cid, uid)
  if role ~= 'expert' and role ~= 'mentor' then
    return fail('forbidden', 'only experts and mentors of the circle go on duty')
  end
  if on then redis.call('HSET', 'help:duty:' .. cid, uid, dev)
  else redis.call('HDEL', 'help:duty:' .. cid, uid) end
  local n = help_duty_count(cid, now_ms())
  publish_circle(cid, {type = 'help.duty', circle = cid, user = uid, on_duty = on, experts_on_duty = n})
  return cjson.encode({on_duty = on, experts_on_duty = n})
end)

-- args: rid, uid, device, cid, topic, details, timeout (ms)
lib.register('help_request', {}, function(keys, args)
  local rid, uid, dev, cid, topic, details = args[1], args[2], args[3], args[4], args[5], args[6]
  if not circle_exists(cid) then return fail('not_found', 'no such circle') end
  if not role_of(cid, uid) then return fail('forbidden', 'only members of the circle ask for help in it') end
  if calls_busy(uid) then return fail('conflict', 'you are in a call; ask for help when it is over') end
  local now = now_ms()
  redis.call('HSET', 'help:' .. rid, 'circle', cid, 'requester', uid, 'requester_dev', dev,
    'topic', topic, 'details', details, 'status', 'open', 'created', string.format('%d', now))
  lib.zadd_in_order('circle:' .. cid .. ':help', now, rid) -- newest first must not tie within a millisecond
  local h = load(rid)
  local chid = help_channel(cid)
  if chid then
    h.channel = chid
    h.message = redis.call('XADD', 'channel:' .. chid .. ':log', '*', 'user', uid, 'text', help_text(h),
      'help', rid)
    redis.call('HSET', 'help:' .. rid, 'channel', chid, 'message', h.message)
    publish_circle(cid, {type = 'chat.message', circle = cid, message = help_msg(h)})
  end
  local n = offer(h, now)
  local online = nudge(h, now, args[8])
  arm(h, now, tonumber(args[7]))
  return cjson.encode({request = help_obj(rid), offered = n, experts_on_duty = help_duty_count(cid, now),
    experts_online = online})
end)

-- args: rid, uid, device, new call id. The status check and the call are one step: first accept wins.
lib.register('help_accept', {}, function(keys, args)
  local rid, uid, dev, call = args[1], args[2], args[3], args[4]
  local h = load(rid)
  if not h then return fail('not_found', 'no such help request') end
  if redis.call('SISMEMBER', 'help:' .. rid .. ':offered', uid) == 0 then
    return fail('forbidden', 'this request was not offered to you')
  end
  if h.status == 'taken' then return fail('conflict', 'someone else already took this request') end
  if h.status ~= 'open' then return fail('conflict', 'this request is ' .. help_status(h.status, h.call)) end
  if calls_busy(uid) then return fail('conflict', 'you are already in a call') end
  if calls_busy(h.requester) then return fail('conflict', 'the person who asked is in another call') end
  local live = redis.call('ZSCORE', 'presence:devices', h.requester .. '/' .. h.requester_dev)
  if not (live and tonumber(live) > now_ms()) then
    return fail('conflict', 'the person who asked is no longer connected')
  end
  redis.call('ZREM', 'help:deadlines', rid)
  redis.call('HSET', 'help:' .. rid, 'call', call)
  calls_open_active(call, h.requester, h.requester_dev, uid, dev,
    {help = rid, peer_user = brief(uid)}, {help = rid, peer_user = brief(h.requester)})
  set_status(h, 'taken', uid)
  tell_offered(h, {type = 'help.taken', request = rid, circle = h.circle, by = brief(uid)}, uid)
  return cjson.encode({request = help_obj(rid), call = call, peer = h.requester, polite = true,
    state = 'active'})
end)

-- args: rid, uid
lib.register('help_cancel', {}, function(keys, args)
  local h, e = asker_may_change(args[1], args[2])
  if e then return e end
  redis.call('ZREM', 'help:deadlines', h.id)
  local was = h.status
  set_status(h, 'cancelled')
  if was == 'open' then
    tell_offered(h, {type = 'help.cancelled', request = h.id, circle = h.circle, reason = 'cancelled'})
  end
  return cjson.encode({request = help_obj(h.id)})
end)

-- args: rid, uid, timeout (ms). Offers again, to whoever can take it now.
lib.register('help_wait', {}, function(keys, args)
  local h, e = asker_may_change(args[1], args[2])
  if e then return e end
  local now = now_ms()
  if h.status ~= 'open' then set_status(h, 'open') end
  local n = offer(h, now)
  arm(h, now, tonumber(args[3]))
  return cjson.encode({request = help_obj(h.id), offered = n})
end)

-- args: uid, cid, limit. Newest first.
lib.register('help_list', {'no-writes'}, function(keys, args)
  local uid, cid = args[1], args[2]
  if not circle_exists(cid) then return fail('not_found', 'no such circle') end
  if not role_of(cid, uid) and not is_admin(uid) then
    return fail('forbidden', 'only members of the circle see its help requests')
  end
  local out = {}
  for _, rid in ipairs(redis.call('ZREVRANGE', 'circle:' .. cid .. ':help', 0, tonumber(args[3]) - 1)) do
    if redis.call('EXISTS', 'help:' .. rid) == 1 then out[#out + 1] = cjson.encode(help_obj(rid)) end
  end
  return '{"requests":' .. jarr(out) .. '}'
end)

-- args: batch size. ZREM claims a deadline: with every node sweeping, each timeout is handled once.
lib.register('help_sweep', {}, function(keys, args)
  local now = now_ms()
  local due = redis.call('ZRANGEBYSCORE', 'help:deadlines', '-inf', now, 'LIMIT', 0, tonumber(args[1]))
  for _, rid in ipairs(due) do
    local h = redis.call('ZREM', 'help:deadlines', rid) == 1 and load(rid)
    if h and h.status == 'open' then
      set_status(h, 'unanswered')
      redis.call('PUBLISH', 'ev:u:' .. h.requester, cjson.encode({type = 'help.unanswered',
        request = rid, circle = h.circle, options = {'wait', 'post', 'book'}}))
      tell_offered(h, {type = 'help.cancelled', request = rid, circle = h.circle, reason = 'unanswered'})
    end
  end
  return #due
end)
