-- circles.lua — circle.* (circles.c): the directory, membership, join requests and roles.
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside from the ids in args: the shared helpers (lib.role_of, lib.can_moderate, lib.brief,
-- presence and duty) take ids, and members, join requests and circles of a page are found while running.

local brief, can_moderate, circle_exists, fail = lib.brief, lib.can_moderate, lib.circle_exists, lib.fail
local hash, help_duty_count, help_on_duty, is_admin = lib.hash, lib.help_duty_count, lib.help_on_duty, lib.is_admin
local is_online, jarr, now_ms, presence_of = lib.is_online, lib.jarr, lib.now_ms, lib.presence_of
local publish_circle, publish_membership, role_of = lib.publish_circle, lib.publish_membership, lib.role_of
local audit, set_role = lib.audit, lib.set_role

local function circle_obj(cid, uid, now)
  local c = hash('circle:' .. cid)
  local members = redis.call('HGETALL', 'circle:' .. cid .. ':members')
  local n, online, experts, my_role = 0, 0, 0, nil
  for i = 1, #members, 2 do
    n = n + 1
    if members[i] == uid then my_role = members[i + 1] end
    if is_online(members[i], now) then
      online = online + 1
      if members[i + 1] == 'expert' or members[i + 1] == 'mentor' then experts = experts + 1 end
    end
  end
  local status = 'none'
  if my_role then status = 'member'
  elseif redis.call('ZSCORE', 'circle:' .. cid .. ':pending', uid) then status = 'pending' end
  return {id = cid, name = c.name, subject = c.subject, phase = c.phase,
    description = c.description or '', moderated = c.moderated == '1', members = n,
    online = online, experts_online = experts, experts_on_duty = help_duty_count(cid, now),
    my_status = status,
    my_role = my_role or cjson.null, created = tonumber(c.created),
    language = c.language or 'english'}
end
-- writes: a newcomer has read what was written before they joined: their read marker (readmark.h) in each
-- channel starts at its newest message, so unread counts start at 0, not at the circle's whole history
local function mark_all_read(cid, uid)
  for _, chid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do
    local newest = redis.call('XREVRANGE', 'channel:' .. chid .. ':log', '+', '-', 'COUNT', 1)
    if #newest > 0 then redis.call('HSET', 'readmark:' .. uid, chid, newest[1][1]) end
  end
end
local function add_member(cid, uid, role)
  mark_all_read(cid, uid)
  redis.call('HSET', 'circle:' .. cid .. ':members', uid, role)
  redis.call('HSET', 'user:' .. uid .. ':circles', cid, 'member')
  publish_membership(cid, uid, 'member', role)
  publish_circle(cid, {type = 'circle.member_joined', circle = cid, user = brief(uid), role = role})
end
local function need_circle(cid)
  if not circle_exists(cid) then return fail('not_found', 'no such circle') end
end
local function need_moderator(cid, uid)
  local e = need_circle(cid)
  if e then return e end
  if not can_moderate(cid, uid) then
    return fail('forbidden', 'only moderators of this circle and admins may do this')
  end
end

-- args: uid, cid, general channel id, help channel id, name, subject, phase, description, moderated
lib.register('circle_create', {}, function(keys, args)
  local uid, cid = args[1], args[2]
  if not is_admin(uid) then return fail('forbidden', 'only admins create circles') end
  local now = now_ms()
  local nows = string.format('%d', now)
  redis.call('HSET', 'circle:' .. cid, 'name', args[5], 'subject', args[6], 'phase', args[7],
    'description', args[8], 'moderated', args[9], 'created_by', uid, 'created', nows)
  -- The directory lists circles in creation order: one made in the same millisecond as the newest sorts
  -- after it (its score one more), never before it by its random id. Scores stay whole (the cursor's form).
  local score = now
  local newest = redis.call('ZRANGE', 'circles', -1, -1, 'WITHSCORES')
  if newest[2] and tonumber(newest[2]) >= score then score = tonumber(newest[2]) + 1 end
  redis.call('ZADD', 'circles', string.format('%d', score), cid)
  redis.call('HSET', 'circle:' .. cid .. ':members', uid, 'moderator')
  redis.call('HSET', 'user:' .. uid .. ':circles', cid, 'member')
  local chans = {}
  for i, ch in ipairs({{args[3], 'general', 'Anything about the circle'},
                       {args[4], 'help', 'Ask for help here'}}) do
    redis.call('HSET', 'channel:' .. ch[1], 'circle', cid, 'name', ch[2], 'topic', ch[3],
      'created', nows)
    redis.call('ZADD', 'circle:' .. cid .. ':channels', now + i - 1, ch[1])
    chans[i] = cjson.encode({id = ch[1], circle = cid, name = ch[2], topic = ch[3]})
  end
  publish_membership(cid, uid, 'member', 'moderator')
  return '{"circle":' .. cjson.encode(circle_obj(cid, uid, now)) .. ',"channels":' ..
    jarr(chans) .. '}'
end)

-- circle.list {mine: true} answers at most this many circles, in one page
local MINE_MAX = 500

-- args: uid, q (lower case), subject (lower case), phase, cursor ("" or "SCORE:CID"), limit, mine ('1': only
-- the user's circles, member or pending: read from user:<uid>:circles, all in one page).
-- Walks the directory in creation order from the cursor. The walk is bounded (`budget` entries per call)
-- so a rare filter cannot stall Redis: a page may then be short with a non-null next_cursor.
lib.register('circle_list', {'no-writes'}, function(keys, args)
  local uid, q, subject, phase, cursor = args[1], args[2], args[3], args[4], args[5]
  local limit, now = tonumber(args[6]), now_ms()
  local start, after_id = '-inf', nil
  if cursor ~= '' then start, after_id = string.match(cursor, '^(%d+):(%x+)$') end
  local function matches(c)
    if phase ~= '' and c.phase ~= phase then return false end
    if subject ~= '' and string.lower(c.subject or '') ~= subject then return false end
    if q == '' then return true end
    for _, f in ipairs({c.name or '', c.subject or '', c.description or ''}) do
      if string.find(string.lower(f), q, 1, true) then return true end
    end
    return false
  end
  if args[7] == '1' then -- mine: the user's own circles (member or pending), not the directory
    local flat, mine = redis.call('HKEYS', 'user:' .. uid .. ':circles'), {}
    for _, cid in ipairs(flat) do
      local created = redis.call('ZSCORE', 'circles', cid)
      if created then mine[#mine + 1] = {cid = cid, created = tonumber(created)} end
    end
    table.sort(mine, function(a, b)
      if a.created ~= b.created then return a.created < b.created end
      return a.cid < b.cid
    end)
    local out = {}
    for _, m in ipairs(mine) do
      if #out >= MINE_MAX then break end
      if matches(hash('circle:' .. m.cid)) then out[#out + 1] = cjson.encode(circle_obj(m.cid, uid, now)) end
    end
    return '{"circles":' .. jarr(out) .. ',"next_cursor":null}'
  end
  local found, last, next_cursor, scanned, offset, budget = {}, nil, cjson.null, 0, 0, 2000
  local done = false
  while not done do
    local batch = redis.call('ZRANGEBYSCORE', 'circles', start, '+inf', 'WITHSCORES',
      'LIMIT', offset, 100)
    if #batch == 0 then break end
    offset = offset + #batch / 2
    for i = 1, #batch, 2 do
      local cid, score = batch[i], batch[i + 1]
      local pos = score .. ':' .. cid
      -- entries with the cursor's score sort by id: skip those up to the cursor itself
    if not (after_id and tonumber(score) == tonumber(start) and cid <= after_id) then
        scanned = scanned + 1
        if matches(hash('circle:' .. cid)) then
          if #found == limit then next_cursor = last; done = true; break end
          found[#found + 1] = cjson.encode(circle_obj(cid, uid, now))
          last = pos
        end
        if scanned >= budget then next_cursor = pos; done = true; break end
      end
    end
  end
  return '{"circles":' .. jarr(found) .. ',"next_cursor":' .. cjson.encode(next_cursor) .. '}'
end)

-- args: uid, cid
lib.register('circle_get', {'no-writes'}, function(keys, args)
  local uid, cid = args[1], args[2]
  local e = need_circle(cid)
  if e then return e end
  return cjson.encode({circle = circle_obj(cid, uid, now_ms())})
end)

-- args: uid, cid. A moderated circle records a request and tells its moderators on their devices.
lib.register('circle_join', {}, function(keys, args)
  local uid, cid = args[1], args[2]
  local e = need_circle(cid)
  if e then return e end
  if role_of(cid, uid) then return fail('conflict', 'already a member of this circle') end
  local pending = 'circle:' .. cid .. ':pending'
  if redis.call('ZSCORE', pending, uid) then
    return fail('conflict', 'a request to join this circle is already waiting')
  end
  if redis.call('HGET', 'circle:' .. cid, 'moderated') ~= '1' then
    add_member(cid, uid, 'member')
    return '{"status":"member"}'
  end
  local now = now_ms()
  redis.call('ZADD', pending, string.format('%d', now), uid)
  redis.call('HSET', 'user:' .. uid .. ':circles', cid, 'pending')
  publish_membership(cid, uid, 'pending', nil)
  local ev = cjson.encode({type = 'circle.join_request', circle = cid, user = brief(uid),
    requested_at = now})
  local members = redis.call('HGETALL', 'circle:' .. cid .. ':members')
  for i = 1, #members, 2 do
    if members[i + 1] == 'moderator' then redis.call('PUBLISH', 'ev:u:' .. members[i], ev) end
  end
  return '{"status":"pending"}'
end)

-- args: uid, cid. Leaving also withdraws a waiting request.
lib.register('circle_leave', {}, function(keys, args)
  local uid, cid = args[1], args[2]
  local e = need_circle(cid)
  if e then return e end
  local role = role_of(cid, uid)
  redis.call('HDEL', 'circle:' .. cid .. ':role_requests', uid)
  if role then
    redis.call('HDEL', 'circle:' .. cid .. ':members', uid)
    publish_circle(cid, {type = 'circle.member_left', circle = cid, user = brief(uid), role = role})
  elseif redis.call('ZREM', 'circle:' .. cid .. ':pending', uid) == 0 then
    return fail('not_found', 'you are not a member of this circle')
  end
  redis.call('HDEL', 'user:' .. uid .. ':circles', cid)
  publish_membership(cid, uid, 'none', nil)
  return ''
end)

-- args: uid, cid
lib.register('circle_pending', {'no-writes'}, function(keys, args)
  local uid, cid = args[1], args[2]
  local e = need_moderator(cid, uid)
  if e then return e end
  local flat, out = redis.call('ZRANGE', 'circle:' .. cid .. ':pending', 0, 999, 'WITHSCORES'), {}
  for i = 1, #flat, 2 do
    out[#out + 1] = cjson.encode({user = brief(flat[i]), requested_at = tonumber(flat[i + 1])})
  end
  return '{"requests":' .. jarr(out) .. '}'
end)

-- args: uid, cid, user whose request is decided, "approve" or "reject"
lib.register('circle_decide', {}, function(keys, args)
  local uid, cid, who, verdict = args[1], args[2], args[3], args[4]
  local e = need_moderator(cid, uid)
  if e then return e end
  if redis.call('ZREM', 'circle:' .. cid .. ':pending', who) == 0 then
    return fail('not_found', 'no request from this user is waiting')
  end
  if verdict == 'approve' then
    add_member(cid, who, 'member')
    audit(cid, uid, 'member_approved', who)
  else
    redis.call('HDEL', 'user:' .. who .. ':circles', cid)
    publish_membership(cid, who, 'none', nil)
    audit(cid, uid, 'member_rejected', who)
  end
  return ''
end)

-- args: uid, cid, cursor ("0" for the first page), limit. One HSCAN step over the members hash (so
-- the work and the answer of one request stay bounded however big the circle is); the page is sorted
-- moderators first, then experts, mentors, members; by name within a role.
lib.register('circle_members', {'no-writes'}, function(keys, args)
  local uid, cid = args[1], args[2]
  local e = need_circle(cid)
  if e then return e end
  if not role_of(cid, uid) and not is_admin(uid) then
    return fail('forbidden', 'only members see the member list')
  end
  local step = redis.call('HSCAN', 'circle:' .. cid .. ':members', args[3], 'COUNT', tonumber(args[4]))
  local now, flat, list = now_ms(), step[2], {}
  for i = 1, #flat, 2 do
    list[#list + 1] = {user = brief(flat[i]), role = flat[i + 1], presence = presence_of(flat[i], now),
      on_duty = help_on_duty(cid, flat[i], now)}
  end
  local rank = {moderator = 1, expert = 2, mentor = 3, member = 4}
  table.sort(list, function(a, b)
    local ra, rb = rank[a.role] or 5, rank[b.role] or 5
    if ra ~= rb then return ra < rb end
    if a.user.name ~= b.user.name then return a.user.name < b.user.name end
    return a.user.id < b.user.id
  end)
  local out = {}
  for i, m in ipairs(list) do out[i] = cjson.encode(m) end
  return '{"members":' .. jarr(out) .. ',"next_cursor":' .. (step[1] == '0' and 'null' or cjson.encode(step[1])) .. '}'
end)

-- args: uid, cid, member, role. A circle always keeps a moderator: demoting the last one is refused.
lib.register('circle_set_role', {}, function(keys, args)
  local uid, cid, who, role = args[1], args[2], args[3], args[4]
  local e = need_moderator(cid, uid)
  if e then return e end
  local old = role_of(cid, who)
  e = set_role(cid, who, role)
  if e then return e end
  if old ~= role then audit(cid, uid, 'role_set', who, nil, role) end
  return ''
end)

-- args: uid (who asks), target. The circles that target is a member of and uid can see — those uid is a
-- member of too, or every one for an admin — each with target's role there: the role badges of a profile
-- card (circle.shared). Sorted by name, at most SHARED_MAX.
local SHARED_MAX = 100
lib.register('circle_shared', {'no-writes'}, function(keys, args)
  local uid, target = args[1], args[2]
  if redis.call('EXISTS', 'user:' .. target) == 0 then return fail('not_found', 'no such user') end
  local admin = is_admin(uid)
  local found = {}
  local theirs = redis.call('HGETALL', 'user:' .. target .. ':circles')
  for i = 1, #theirs, 2 do
    local cid = theirs[i]
    if theirs[i + 1] == 'member' and (admin or role_of(cid, uid)) then
      local role = role_of(cid, target)
      if role then found[#found + 1] = {id = cid, name = redis.call('HGET', 'circle:' .. cid, 'name') or '', role = role} end
    end
  end
  table.sort(found, function(a, b) return a.name < b.name or (a.name == b.name and a.id < b.id) end)
  local out = {}
  for i = 1, math.min(#found, SHARED_MAX) do out[i] = cjson.encode(found[i]) end
  return '{"circles":' .. jarr(out) .. '}'
end)
