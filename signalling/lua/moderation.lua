-- moderation.lua — roles asked for and decided, removal of members, reports and their queue, the audit
-- log, and account suspension (moderation.c).
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside from the ids in args (moderation.h lists them): a channel leads to its circle,
-- a report to its message, a user to its circles and sessions.
--
-- Every action a moderator or an admin takes is written to the circle's audit log (lib.audit) by the same
-- function that does it, so the log never misses an action and never shows one that did not happen.

local audit, brief, can_moderate, circle_exists = lib.audit, lib.brief, lib.can_moderate, lib.circle_exists
local fail, hash, is_admin, jarr, now_ms = lib.fail, lib.hash, lib.is_admin, lib.jarr, lib.now_ms
local message_remove, publish_circle, role_of, set_role = lib.message_remove, lib.publish_circle, lib.role_of,
  lib.set_role

local QUEUE_MAX = 200 -- moderation.queue answers at most this many open reports

local function need_moderator(cid, uid)
  if not circle_exists(cid) then return fail('not_found', 'no such circle') end
  if not can_moderate(cid, uid) then
    return fail('forbidden', 'only moderators of this circle and admins may do this')
  end
end
-- writes: publishes event ev (a table) to each moderator of circle cid
local function tell_moderators(cid, ev)
  local text, members = cjson.encode(ev), redis.call('HGETALL', 'circle:' .. cid .. ':members')
  for i = 1, #members, 2 do
    if members[i + 1] == 'moderator' then redis.call('PUBLISH', 'ev:u:' .. members[i], text) end
  end
end
local function moderator_count(cid)
  local n = 0
  for _, r in ipairs(redis.call('HVALS', 'circle:' .. cid .. ':members')) do
    if r == 'moderator' then n = n + 1 end
  end
  return n
end

-- ---------------- role requests: circle:<cid>:role_requests uid → {role, note, requested_at} ----------------

local function role_request_obj(cid, uid, raw)
  local q = cjson.decode(raw)
  return {circle = cid, user = brief(uid), role = q.role, note = q.note, requested_at = q.requested_at}
end

-- args: uid, cid, role ("expert" | "mentor"), note
lib.register('circle_role_request', {}, function(keys, args)
  local uid, cid, role, note = args[1], args[2], args[3], args[4]
  if not circle_exists(cid) then return fail('not_found', 'no such circle') end
  local mine = role_of(cid, uid)
  if not mine then return fail('forbidden', 'only members of the circle ask for a role in it') end
  if mine == role then return fail('conflict', 'you already have this role') end
  local k = 'circle:' .. cid .. ':role_requests'
  if redis.call('HEXISTS', k, uid) == 1 then return fail('conflict', 'a request of yours is already waiting') end
  local now = now_ms()
  redis.call('HSET', k, uid, cjson.encode({role = role, note = note, requested_at = now}))
  local ev = {type = 'circle.role_request', circle = cid, user = brief(uid), role = role, note = note,
    requested_at = now}
  tell_moderators(cid, ev)
  return ''
end)

-- args: uid, cid → {requests: [...]}, oldest first
lib.register('circle_role_requests', {'no-writes'}, function(keys, args)
  local uid, cid = args[1], args[2]
  local e = need_moderator(cid, uid)
  if e then return e end
  local flat, list = redis.call('HGETALL', 'circle:' .. cid .. ':role_requests'), {}
  for i = 1, #flat, 2 do list[#list + 1] = role_request_obj(cid, flat[i], flat[i + 1]) end
  table.sort(list, function(a, b) return a.requested_at < b.requested_at end)
  local out = {}
  for i, q in ipairs(list) do
    q.circle = nil
    out[i] = cjson.encode(q)
  end
  return '{"requests":' .. jarr(out) .. '}'
end)

-- args: uid, cid, who, role, approve ('1' | '0'). Approving sets the role as circle.set_role does.
lib.register('circle_role_decide', {}, function(keys, args)
  local uid, cid, who, role, approve = args[1], args[2], args[3], args[4], args[5] == '1'
  local e = need_moderator(cid, uid)
  if e then return e end
  local k = 'circle:' .. cid .. ':role_requests'
  local raw = redis.call('HGET', k, who)
  if not raw or cjson.decode(raw).role ~= role then
    return fail('not_found', 'no request for this role from this user is waiting')
  end
  if approve then
    e = set_role(cid, who, role)
    if e then return e end
  end
  redis.call('HDEL', k, who)
  redis.call('PUBLISH', 'ev:u:' .. who, cjson.encode({type = 'circle.role_decided', circle = cid, role = role,
    approved = approve}))
  audit(cid, uid, 'role_request_decided', who, nil, role .. (approve and ' approved' or ' declined'))
  return ''
end)

-- ---------------- removal ----------------

-- writes: takes every device of user who out of the rooms of circle cid and tells the circle; each device
-- gets room.removed {room, device} (its node's rooms module takes it off the room's SFU and forgets it)
local function leave_rooms(cid, who)
  for _, rid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':rooms', 0, -1)) do
    local pk, changed = 'room:' .. rid .. ':p', false
    local flat = redis.call('HGETALL', pk)
    for i = 1, #flat, 2 do
      local ok, p = pcall(cjson.decode, flat[i + 1])
      if ok and type(p) == 'table' and type(p.user) == 'table' and p.user.id == who then
        redis.call('HDEL', pk, flat[i])
        redis.call('ZREM', 'room:' .. rid .. ':members', flat[i])
        redis.call('PUBLISH', 'ev:u:' .. who, cjson.encode({type = 'room.removed', room = rid, device = flat[i]}))
        changed = true
      end
    end
    if changed then
      local parts = {}
      for _, d in ipairs(redis.call('ZRANGE', 'room:' .. rid .. ':members', 0, -1)) do
        local p = redis.call('HGET', pk, d)
        if p then parts[#parts + 1] = p end
      end
      redis.call('PUBLISH', 'ev:c:' .. cid, '{"type":"room.participants","circle":' .. cjson.encode(cid) ..
        ',"room":' .. cjson.encode(rid) .. ',"participants":' .. jarr(parts) .. '}')
    end
  end
end

-- args: uid, cid, who, reason. The user stops being a member at once: circle.membership (status none) on
-- their devices makes every node stop delivering the circle's events to them, and every check of
-- membership (channels, rooms, help) reads the members hash this removes them from.
lib.register('circle_remove', {}, function(keys, args)
  local uid, cid, who, reason = args[1], args[2], args[3], args[4]
  local e = need_moderator(cid, uid)
  if e then return e end
  if who == uid then return fail('conflict', 'you cannot remove yourself: leave the circle instead') end
  local role = role_of(cid, who)
  if not role then return fail('not_found', 'this user is not a member of the circle') end
  if role == 'moderator' and moderator_count(cid) <= 1 then
    return fail('conflict', 'the last moderator of a circle cannot be removed')
  end
  redis.call('HDEL', 'circle:' .. cid .. ':members', who)
  redis.call('HDEL', 'user:' .. who .. ':circles', cid)
  redis.call('HDEL', 'circle:' .. cid .. ':role_requests', who)
  redis.call('HDEL', 'help:duty:' .. cid, who)
  leave_rooms(cid, who)
  publish_circle(cid, {type = 'circle.member_left', circle = cid, user = brief(who), role = role, removed = true})
  redis.call('PUBLISH', 'ev:u:' .. who, cjson.encode({type = 'circle.membership', circle = cid, user = who,
    status = 'none', role = cjson.null, reason = 'removed'}))
  audit(cid, uid, 'member_removed', who, nil, reason)
  return ''
end)

-- ---------------- reports ----------------
-- report:<id> hash: circle, channel, message, msg_user, msg_text (as reported), reporter, reason, created,
-- status (open | dismissed | removed), resolved_by; circle:<cid>:reports zset: open report ids by creation;
-- channel:<chid>:reports:<mid> hash: reporter uid → report id (one report per user and message).

local function report_obj(id)
  local r = hash('report:' .. id)
  if not r.circle then return nil end
  return {id = id, circle = r.circle, channel = r.channel,
    message = {id = r.message, text = r.msg_text, user = brief(r.msg_user)}, reporter = brief(r.reporter),
    reason = r.reason, created = tonumber(r.created), status = r.status}
end

-- args: uid, chid, message id, reason, new report id → {report}
lib.register('chat_report', {}, function(keys, args)
  local uid, chid, mid, reason, id = args[1], args[2], args[3], args[4], args[5]
  local cid = redis.call('HGET', 'channel:' .. chid, 'circle')
  if not cid then return fail('not_found', 'no such channel') end
  if not role_of(cid, uid) then return fail('forbidden', 'only members of the circle report its messages') end
  local en = redis.call('XRANGE', 'channel:' .. chid .. ':log', mid, mid)
  if #en == 0 or redis.call('HEXISTS', 'channel:' .. chid .. ':removed', mid) == 1 then
    return fail('not_found', 'no such message')
  end
  local dk = 'channel:' .. chid .. ':reports:' .. mid
  if redis.call('HEXISTS', dk, uid) == 1 then return fail('conflict', 'you already reported this message') end
  local f = {}
  for i = 1, #en[1][2], 2 do f[en[1][2][i]] = en[1][2][i + 1] end
  local text = redis.call('HGET', 'channel:' .. chid .. ':edits', mid) or f.text or ''
  local now = string.format('%d', now_ms())
  redis.call('HSET', 'report:' .. id, 'circle', cid, 'channel', chid, 'message', mid, 'msg_user', f.user or '',
    'msg_text', text, 'reporter', uid, 'reason', reason, 'created', now, 'status', 'open')
  lib.zadd_in_order('circle:' .. cid .. ':reports', now, id) -- the queue is oldest first, ties included
  redis.call('HSET', dk, uid, id)
  local r = report_obj(id)
  tell_moderators(cid, {type = 'moderation.report', circle = cid, report = r})
  return cjson.encode({report = r})
end)

-- args: uid, cid → {reports: [...]}: open ones, oldest first
lib.register('moderation_queue', {'no-writes'}, function(keys, args)
  local uid, cid = args[1], args[2]
  local e = need_moderator(cid, uid)
  if e then return e end
  local out = {}
  for _, id in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':reports', 0, QUEUE_MAX - 1)) do
    local r = report_obj(id)
    if r then out[#out + 1] = cjson.encode(r) end
  end
  return '{"reports":' .. jarr(out) .. '}'
end)

-- args: uid, cid, report id, action ('dismiss' | 'remove'). Removing deletes the message as a moderator
-- deletion; every open report of that message is closed with the same verdict.
lib.register('moderation_resolve', {}, function(keys, args)
  local uid, cid, id, action = args[1], args[2], args[3], args[4]
  local e = need_moderator(cid, uid)
  if e then return e end
  local r = hash('report:' .. id)
  if r.circle ~= cid then return fail('not_found', 'no such report in this circle') end
  if r.status ~= 'open' then return fail('conflict', 'this report is already ' .. r.status) end
  local status = action == 'remove' and 'removed' or 'dismissed'
  if status == 'removed' then
    local en = redis.call('XRANGE', 'channel:' .. r.channel .. ':log', r.message, r.message)
    if #en > 0 and redis.call('HEXISTS', 'channel:' .. r.channel .. ':removed', r.message) == 0 then
      message_remove(cid, r.channel, r.message, r.msg_user, uid)
    end
  end
  local flat = redis.call('HGETALL', 'channel:' .. r.channel .. ':reports:' .. r.message)
  for i = 2, #flat, 2 do
    local other = flat[i]
    if redis.call('HGET', 'report:' .. other, 'status') == 'open' then
      redis.call('HSET', 'report:' .. other, 'status', status, 'resolved_by', uid)
      redis.call('ZREM', 'circle:' .. cid .. ':reports', other)
    end
  end
  audit(cid, uid, 'report_resolved', r.msg_user, r.message, status, r.channel)
  return ''
end)

-- ---------------- the audit log ----------------

-- args: uid, cid, before ('' = newest), limit[, archived] → {entries: [...] newest first, has_more}.
-- With archived = '1' (the archive is configured: history.c) only the entries not copied to PostgreSQL yet
-- (newer than the circle's audit_copied), and `below`: the id under which PostgreSQL has the rest ("" = no
-- bound), so that the two parts neither overlap nor leave a gap whatever the archiver does meanwhile.
lib.register('moderation_audit', {'no-writes'}, function(keys, args)
  local uid, cid, before, limit, archived = args[1], args[2], args[3], tonumber(args[4]), args[5] == '1'
  local e = need_moderator(cid, uid)
  if e then return e end
  local log = 'circle:' .. cid .. ':audit'
  local hi = before ~= '' and ('(' .. before) or '+'
  local lo, below = '-', nil
  if archived then
    local copied = redis.call('HGET', 'circle:' .. cid, 'audit_copied')
    local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
    if copied then
      lo = '(' .. copied
      local ms, seq = string.match(copied, '^(%d+)-(%d+)$')
      below = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    else
      below = oldest and oldest[1] or ''
    end
  end
  local entries = redis.pcall('XREVRANGE', log, hi, lo, 'COUNT', limit + 1)
  if entries.err then entries = {} end -- "(0-0": nothing lies before it
  local out = {}
  for i = 1, math.min(#entries, limit) do out[i] = cjson.encode(lib.audit_entry(entries[i][1], entries[i][2])) end
  local tail = below and (',"below":' .. cjson.encode(below)) or ''
  return '{"entries":' .. jarr(out) .. ',"has_more":' .. tostring(#entries > limit) .. tail .. '}'
end)

-- ---------------- suspension (user:<uid> fields suspended, suspended_reason, suspended_by, suspended_at) ----------------

-- args: uid (an admin), who, reason. Publishes auth.suspended on each of the user's session channels
-- ev:s:<hash> (every node signs those connections out and closes them: accounts.c); auth.login and
-- auth.resume are refused with `suspended` from now on (accounts.lua). Written to the audit log of every
-- circle the user belongs to.
lib.register('admin_suspend', {}, function(keys, args)
  local uid, who, reason = args[1], args[2], args[3]
  if not is_admin(uid) then return fail('forbidden', 'only admins suspend accounts') end
  if redis.call('EXISTS', 'user:' .. who) == 0 then return fail('not_found', 'no such user') end
  if who == uid then return fail('conflict', 'you cannot suspend yourself') end
  redis.call('HSET', 'user:' .. who, 'suspended', '1', 'suspended_reason', reason, 'suspended_by', uid,
    'suspended_at', string.format('%d', now_ms()))
  -- The sessions stay (auth.resume then answers `suspended`, and works again once the suspension is
  -- lifted, as long as the token lives); their connections are signed out and closed now.
  local ev = cjson.encode({type = 'auth.suspended', user = who, reason = reason})
  for _, h in ipairs(redis.call('HKEYS', 'user:' .. who .. ':sessions')) do
    redis.call('PUBLISH', 'ev:s:' .. h, ev)
  end
  for _, cid in ipairs(redis.call('HKEYS', 'user:' .. who .. ':circles')) do
    audit(cid, uid, 'user_suspended', who, nil, reason)
  end
  return ''
end)

-- args: uid (an admin), who
lib.register('admin_unsuspend', {}, function(keys, args)
  local uid, who = args[1], args[2]
  if not is_admin(uid) then return fail('forbidden', 'only admins lift suspensions') end
  if redis.call('EXISTS', 'user:' .. who) == 0 then return fail('not_found', 'no such user') end
  if redis.call('HDEL', 'user:' .. who, 'suspended', 'suspended_reason', 'suspended_by', 'suspended_at') == 0 then
    return fail('conflict', 'this account is not suspended')
  end
  for _, cid in ipairs(redis.call('HKEYS', 'user:' .. who .. ':circles')) do
    audit(cid, uid, 'user_unsuspended', who)
  end
  return ''
end)
