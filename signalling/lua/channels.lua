-- channels.lua — channel.* and chat.* (channels.c): each checks membership, writes and publishes in one step.
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside from the ids in args: a channel leads to its circle (channel:<chid> → circle), whose
-- membership the shared helpers (lib.role_of, lib.brief, …) read by id; mentioned users are found in the text.

local brief, can_moderate, circle_exists, fail = lib.brief, lib.can_moderate, lib.circle_exists, lib.fail
local hash, help_brief, is_admin, is_online = lib.hash, lib.help_brief, lib.is_admin, lib.is_online
local jarr, now_ms, publish_circle, role_of = lib.jarr, lib.now_ms, lib.publish_circle, lib.role_of
local message_remove, unread_of = lib.message_remove, lib.unread_of

-- the circle and role of uid in channel chid's circle, or nil, nil and an error reply
local function member_channel(chid, uid)
  local cid = redis.call('HGET', 'channel:' .. chid, 'circle')
  if not cid then return nil, nil, fail('not_found', 'no such channel') end
  local role = role_of(cid, uid)
  if not role then
    return nil, nil, fail('forbidden', 'only members of the circle use its channels')
  end
  return cid, role, nil
end
-- a stored message (id, flat field list) as its protocol object
local function msg_obj(chid, id, flat)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  local text, edited = f.text, false
  local e = redis.call('HGET', 'channel:' .. chid .. ':edits', id)
  if e then text, edited = e, true end
  local m = {id = id, channel = chid, user = brief(f.user), text = text,
    ts = tonumber(string.match(id, '^(%d+)')), edited = edited}
  -- a moderator's deletion leaves a tombstone (channel:<chid>:removed: id → who removed it) that shows
  -- nothing of the message, not even a help request's topic
  local removed = redis.call('HGET', 'channel:' .. chid .. ':removed', id)
  if removed then
    m.text, m.edited, m.removed = '', false, removed
  elseif f.help then
    m.help = help_brief(f.help)
  end
  return m
end
-- a message's stored fields, nil if there is none or a moderator removed it
local function find_msg(chid, id)
  local r = redis.call('XRANGE', 'channel:' .. chid .. ':log', id, id)
  if #r == 0 or redis.call('HEXISTS', 'channel:' .. chid .. ':removed', id) == 1 then return nil end
  return r[1][2]
end
-- writes: tells every member of circle cid named as @name in the text of message m (by uid, stored) —
-- not the sender, each once, at most MENTIONS_MAX — with chat.mention on ev:u, an entry in their
-- notification history (notif:<uid>, as scheduling's reminders) and, if they are offline, a copy that
-- waits for their next sign-in (notif:<uid>:pending)
local MENTIONS_MAX = 20
local function tell_mentions(cid, chid, uid, text, m)
  local told, n, now = {}, 0, now_ms()
  for raw in string.gmatch(text, '@([%w_%.%-]+)') do
    if n >= MENTIONS_MAX then break end
    local name = string.lower((string.gsub(raw, '[%.%-]+$', '')))
    local who = redis.call('GET', 'username:' .. name)
    if who and who ~= uid and not told[who] and role_of(cid, who) then
      told[who], n = true, n + 1
      local ev = cjson.encode({type = 'chat.mention', circle = cid, channel = chid, message = m,
        by = brief(uid)})
      redis.call('PUBLISH', 'ev:u:' .. who, ev)
      redis.call('LPUSH', 'notif:' .. who, cjson.encode({at = now, kind = 'chat.mention', event = cjson.decode(ev)}))
      redis.call('LTRIM', 'notif:' .. who, 0, 99)
      if not is_online(who, now) then
        redis.call('RPUSH', 'notif:' .. who .. ':pending', ev)
        redis.call('LTRIM', 'notif:' .. who .. ':pending', -100, -1)
      end
    end
  end
end

-- args: uid, cid, chid, name, topic. Names are unique per circle, ignoring case.
lib.register('channel_create', {}, function(keys, args)
  local uid, cid, chid, name, topic = args[1], args[2], args[3], args[4], args[5]
  if not circle_exists(cid) then return fail('not_found', 'no such circle') end
  if not can_moderate(cid, uid) then
    return fail('forbidden', 'only moderators of this circle and admins create channels')
  end
  local lname = string.lower(name)
  for _, other in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do
    local n = redis.call('HGET', 'channel:' .. other, 'name')
    if n and string.lower(n) == lname then
      return fail('conflict', 'this circle already has a channel with that name')
    end
  end
  local now = string.format('%d', now_ms())
  redis.call('HSET', 'channel:' .. chid, 'circle', cid, 'name', name, 'topic', topic, 'created', now)
  redis.call('ZADD', 'circle:' .. cid .. ':channels', now, chid)
  local ch = {id = chid, circle = cid, name = name, topic = topic}
  publish_circle(cid, {type = 'channel.created', channel = ch})
  return cjson.encode({channel = ch})
end)

-- args: uid, cid
lib.register('channel_list', {'no-writes'}, function(keys, args)
  local uid, cid = args[1], args[2]
  if not circle_exists(cid) then return fail('not_found', 'no such circle') end
  if not role_of(cid, uid) then
    return fail('forbidden', 'only members of the circle see its channels')
  end
  local out = {}
  local lname = string.lower(redis.call('HGET', 'user:' .. uid, 'name') or '')
  for _, chid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do
    local c = hash('channel:' .. chid)
    local u = unread_of(chid, uid, lname)
    out[#out + 1] = cjson.encode({id = chid, circle = cid, name = c.name, topic = c.topic or '',
      unread = u.unread, mentions = u.mentions, last_read = u.last_read})
  end
  return '{"channels":' .. jarr(out) .. '}'
end)

-- args: uid, chid, text. XADD and PUBLISH in one script: the event order is the stream order and the
-- answer (ok) is only sent once the message is stored.
lib.register('chat_send', {}, function(keys, args)
  local uid, chid, text = args[1], args[2], args[3]
  local cid, _, e = member_channel(chid, uid)
  if e then return e end
  local id = redis.call('XADD', 'channel:' .. chid .. ':log', '*', 'user', uid, 'text', text)
  local m = msg_obj(chid, id, {'user', uid, 'text', text})
  publish_circle(cid, {type = 'chat.message', circle = cid, message = m})
  tell_mentions(cid, chid, uid, text, m)
  return cjson.encode({message = m})
end)

-- args: uid, chid, before ("" = none), after ("" = none), limit[, "1"]. Both bounds are exclusive. Without
-- `after` the newest messages before `before` are read backwards; answers are always oldest first.
-- With the sixth argument (the PostgreSQL archive is on: archive.c pages across it) the answer also has
-- `first`, the oldest id in the stream, and `archived`, the newest id moved to the archive (or none).
lib.register('chat_history', {'no-writes'}, function(keys, args)
  local uid, chid, before, after = args[1], args[2], args[3], args[4]
  local limit = tonumber(args[5])
  local _, _, e = member_channel(chid, uid)
  if e then return e end
  local log, hi = 'channel:' .. chid .. ':log', '+'
  if before ~= '' then hi = '(' .. before end
  local entries
  if after ~= '' then
    entries = redis.pcall('XRANGE', log, '(' .. after, hi, 'COUNT', limit + 1)
  else
    entries = redis.pcall('XREVRANGE', log, hi, '-', 'COUNT', limit + 1)
  end
  -- Redis refuses an exclusive bound past the ends of the id space ("(0-0" as end, the largest id as
  -- start): nothing lies beyond them, so that is an empty page, not an error
  if entries.err then entries = {} end
  local has_more = #entries > limit
  local n = math.min(#entries, limit)
  local out = {}
  for i = 1, n do
    local en = entries[i]
    if after == '' then en = entries[n + 1 - i] end
    out[i] = cjson.encode(msg_obj(chid, en[1], en[2]))
  end
  local extra = ''
  if args[6] == '1' then
    local f = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)
    local archived = redis.call('HGET', 'channel:' .. chid, 'archived')
    extra = ',"first":' .. cjson.encode(f[1] and f[1][1] or '') .. ',"archived":' .. cjson.encode(archived or '')
  end
  return '{"messages":' .. jarr(out) .. ',"has_more":' .. tostring(has_more) .. extra .. '}'
end)

-- args: uid, chid, message id, text. Only the author edits.
lib.register('chat_edit', {}, function(keys, args)
  local uid, chid, id, text = args[1], args[2], args[3], args[4]
  local cid, _, e = member_channel(chid, uid)
  if e then return e end
  local flat = find_msg(chid, id)
  if not flat then return fail('not_found', 'no such message') end
  local m = msg_obj(chid, id, flat)
  if m.user.id ~= uid then return fail('forbidden', 'only the author edits a message') end
  redis.call('HSET', 'channel:' .. chid .. ':edits', id, text)
  m.text, m.edited = text, true
  publish_circle(cid, {type = 'chat.updated', circle = cid, message = m})
  return cjson.encode({message = m})
end)

-- args: uid, chid, message id. The author, the circle's moderators and admins delete. The author's
-- deletion removes the message; anyone else's (a moderator's) leaves a tombstone in the history and is
-- written to the circle's audit log.
lib.register('chat_delete', {}, function(keys, args)
  local uid, chid, id = args[1], args[2], args[3]
  local cid, role, e = member_channel(chid, uid)
  if e and not (cid == nil and is_admin(uid) and redis.call('EXISTS', 'channel:' .. chid) == 1) then return e end
  cid = cid or redis.call('HGET', 'channel:' .. chid, 'circle')
  local flat = find_msg(chid, id)
  if not flat then return fail('not_found', 'no such message') end
  local author = nil
  for i = 1, #flat, 2 do if flat[i] == 'user' then author = flat[i + 1] end end
  if author ~= uid and role ~= 'moderator' and not is_admin(uid) then
    return fail('forbidden', 'only the author or a moderator deletes a message')
  end
  message_remove(cid, chid, id, author, uid)
  return ''
end)

-- args: uid, chid, throttle window (ms, channels.h TYPING_THROTTLE_MS). Nothing is stored but a short-lived
-- throttle key; repeated calls inside the window are answered ok without a new event.
lib.register('chat_typing', {}, function(keys, args)
  local uid, chid = args[1], args[2]
  local cid, _, e = member_channel(chid, uid)
  if e then return e end
  if redis.call('SET', 'typing:' .. chid .. ':' .. uid, '1', 'PX', args[3], 'NX') then
    publish_circle(cid, {type = 'chat.typing', circle = cid, channel = chid, user = brief(uid)})
  end
  return ''
end)
