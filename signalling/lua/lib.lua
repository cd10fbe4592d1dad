#!lua name=staffroom
-- lib.lua — the shared part of the staffroom Redis Functions library: helpers that more than one feature
-- file needs, one copy each, and lib.register, through which every feature file registers its functions.
--
-- The library is this file followed by every feature file (the Makefile concatenates them, each feature
-- file inside its own do … end block, and embeds the text in staffroom-signal; store.c loads it with
-- FUNCTION LOAD REPLACE). A feature file sees `lib` (this table) and nothing else of this file: it takes
-- what it uses with `local x = lib.x` at its top.
-- Must not: write anything by itself (helpers that write say so), or know about C.
--
-- Conventions inside functions:
--  - fail(code, text) makes the error reply "code: text" that req_store_error maps to a protocol code.
--  - Answers are JSON object text; jarr() joins already-encoded items into an array, because cjson encodes
--    an empty Lua table as {} and the protocol promises [] for lists.
--  - Presence keys are the presence module's (ARCHITECTURE.md): presence:online (uid → latest device
--    expiry, unix ms), presence:user:<uid> (device → status), presence:devices (<uid>/<device> → expiry).
--  - Events go to ev:u:<uid> (a user's devices) and ev:c:<cid> (a circle's members) as JSON text; a
--    to_device / not_device member routes an ev:u event to one device / all but one (bus.h).

local lib = {} -- luacheck: ignore 241 (read by the feature files that follow it in the library)

-- Calls' timing, also used by the C side (calls.h CALL_ACTIVE_TTL, CALL_PARTY_TTL: change both; the unit
-- test test_lua_library checks that they agree).
local CALL_ACTIVE_TTL = 60 -- seconds an active call's keys live without a refresh
local CALL_PARTY_TTL = 15  -- seconds after its node's last refresh that a vanished party ends the call
lib.CALL_ACTIVE_TTL, lib.CALL_PARTY_TTL = CALL_ACTIVE_TTL, CALL_PARTY_TTL

-- ---------------- basics ----------------

local function fail(code, text) return redis.error_reply(code .. ': ' .. text) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function jarr(items) return '[' .. table.concat(items, ',') .. ']' end
local function hash(key)
  local flat, h = redis.call('HGETALL', key), {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end
-- hash() as a record: nil when the key does not exist (an empty hash is no hash in Redis)
local function record(key)
  local h = hash(key)
  if next(h) == nil then return nil end
  return h
end
-- text (a JSON object) with the routing member key = dev appended (bus.h: to_device, not_device)
local function with_route(text, key, dev)
  return string.sub(text, 1, -2) .. ',"' .. key .. '":' .. cjson.encode(dev) .. '}'
end
-- writes: publishes event t on ev:u:<uid>, to device dev only when key and dev are given
local function pub(uid, key, dev, t)
  local s = cjson.encode(t)
  if dev then s = with_route(s, key, dev) end
  redis.call('PUBLISH', 'ev:u:' .. uid, s)
end

-- ---------------- users, circles, presence ----------------

local function is_admin(uid) return redis.call('HGET', 'user:' .. uid, 'admin') == '1' end
local function role_of(cid, uid)
  return redis.call('HGET', 'circle:' .. cid .. ':members', uid)
end
local function circle_exists(cid) return redis.call('EXISTS', 'circle:' .. cid) == 1 end
local function can_moderate(cid, uid)
  return role_of(cid, uid) == 'moderator' or is_admin(uid)
end
-- users named in one answer are read once per call (the cache is emptied before each call: lib.register)
local user_cache = {}
local function brief(uid)
  local u = user_cache[uid]
  if not u then
    local f = redis.call('HMGET', 'user:' .. uid, 'name', 'display_name')
    u = {id = uid, name = f[1] or '', display_name = f[2] or f[1] or ''}
    user_cache[uid] = u
  end
  return u
end
local function is_online(uid, now)
  local e = redis.call('ZSCORE', 'presence:online', uid)
  return e and tonumber(e) > now
end
-- combined status over the user's live devices: the most engaged one wins
local status_rank = {away = 1, online = 2, busy = 3, in_call = 4}
local function presence_of(uid, now)
  if not is_online(uid, now) then return 'offline' end
  local devs, best = redis.call('HGETALL', 'presence:user:' .. uid), nil
  for i = 1, #devs, 2 do
    local e = redis.call('ZSCORE', 'presence:devices', uid .. '/' .. devs[i])
    local s = devs[i + 1]
    if e and tonumber(e) > now and status_rank[s] and
       (not best or status_rank[s] > status_rank[best]) then best = s end
  end
  return best or 'online'
end
-- writes: tells the user's devices (and every node's bus) about a membership change
local function publish_membership(cid, uid, status, role)
  redis.call('PUBLISH', 'ev:u:' .. uid, cjson.encode({type = 'circle.membership', circle = cid,
    user = uid, status = status, role = role or cjson.null}))
end
local function publish_circle(cid, ev) redis.call('PUBLISH', 'ev:c:' .. cid, cjson.encode(ev)) end

-- ---------------- roles and the audit log (moderation.h lists the keys) ----------------

-- How many entries a circle's audit log keeps (XADD MAXLEN ~: trimmed in whole macro nodes, cheaply).
local AUDIT_MAX = 10000
-- writes: appends one entry to circle cid's audit log circle:<cid>:audit (a stream, newest last): actor
-- (uid), action (a word of PROTOCOL.md "Moderation"), then the optional target user, message id, detail
-- (a short text) and channel. Called by the function that does the action, so the action and its entry
-- are one step.
local function audit(cid, actor, action, target, message, detail, channel)
  local f = {'actor', actor, 'action', action}
  if target then f[#f + 1] = 'target'; f[#f + 1] = target end
  if message then f[#f + 1] = 'message'; f[#f + 1] = message end
  if channel then f[#f + 1] = 'channel'; f[#f + 1] = channel end
  if detail and detail ~= '' then f[#f + 1] = 'detail'; f[#f + 1] = detail end
  redis.call('XADD', 'circle:' .. cid .. ':audit', 'MAXLEN', '~', AUDIT_MAX, '*', unpack(f))
end
-- The protocol object of audit entry id with fields f (as XRANGE gives them, flat) (moderation.audit; the
-- archive stores it as it is when copied: archive.lua).
local function audit_entry(id, flat)
  local f = {}
  for j = 1, #flat, 2 do f[flat[j]] = flat[j + 1] end
  local o = {id = id, ts = tonumber(string.match(id, '^(%d+)')), actor = lib.brief(f.actor), action = f.action}
  if f.target then o.target_user = lib.brief(f.target) end
  if f.message then o.message = f.message end
  if f.channel then o.channel = f.channel end
  if f.detail then o.detail = f.detail end
  return o
end
-- writes: gives member `who` of circle cid the role `role` (events circle.membership to the user and
-- circle.role to the circle). Returns an error reply, or nil. A circle always keeps a moderator: demoting
-- the last one is refused (conflict). Setting the role someone already has changes nothing.
local function set_role(cid, who, role)
  local old = role_of(cid, who)
  if not old then return fail('not_found', 'this user is not a member of the circle') end
  if old == role then return nil end
  if old == 'moderator' then
    local flat, mods = redis.call('HVALS', 'circle:' .. cid .. ':members'), 0
    for _, r in ipairs(flat) do if r == 'moderator' then mods = mods + 1 end end
    if mods <= 1 then return fail('conflict', 'the last moderator of a circle cannot be demoted') end
  end
  redis.call('HSET', 'circle:' .. cid .. ':members', who, role)
  publish_membership(cid, who, 'member', role)
  publish_circle(cid, {type = 'circle.role', circle = cid, user = brief(who), role = role})
  return nil
end

-- writes: deletes message id (by `author`) of channel chid in circle cid on behalf of user `by`. The
-- author's own deletion removes it from the history; anyone else's (a moderator's) leaves a tombstone —
-- channel:<chid>:removed id → "moderator" (the stream entry stays: streams are append-only) — and is
-- written to the audit log. Either way the circle gets chat.deleted {circle, channel, message, by}.
local function message_remove(cid, chid, id, author, by)
  local kind = 'author'
  if author == by then
    redis.call('XDEL', 'channel:' .. chid .. ':log', id)
  else
    kind = 'moderator'
    redis.call('HSET', 'channel:' .. chid .. ':removed', id, kind)
    audit(cid, by, 'message_removed', author, id, nil, chid)
  end
  redis.call('HDEL', 'channel:' .. chid .. ':edits', id)
  publish_circle(cid, {type = 'chat.deleted', circle = cid, channel = chid, message = id, by = kind})
end

-- ---------------- read markers (readmark.h lists the keys) ----------------

-- Unread counts read at most UNREAD_CAP + 1 messages per channel (the client shows "99+" past 99).
local UNREAD_CAP = 100
-- -1, 0 or 1 as stream id a is before, equal to or after b ("MS-SEQ", decimal; compared as numbers)
local function id_cmp(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  if am ~= bm then return am < bm and -1 or 1 end
  if as ~= bs then return as < bs and -1 or 1 end
  return 0
end
-- true if text names the user called lname (lower case) as @name, by the rule chat.mention uses
local function mentions_name(text, lname)
  for raw in string.gmatch(text, '@([%w_%.%-]+)') do
    if string.lower((string.gsub(raw, '[%.%-]+$', ''))) == lname then return true end
  end
  return false
end
-- channel chid as seen by uid (whose user name, lower case, is lname): {unread, mentions, last_read,
-- newest}. Reads at most UNREAD_CAP + 1 messages after the user's marker; the user's own messages and
-- removed ones are not counted; unread stops at UNREAD_CAP. newest: the id of the channel's newest message
-- now (null: none), so that a client can tell which live messages these counts already include.
local function unread_of(chid, uid, lname)
  local last = redis.call('HGET', 'readmark:' .. uid, chid)
  local from = last and ('(' .. last) or '-'
  local entries = redis.pcall('XRANGE', 'channel:' .. chid .. ':log', from, '+', 'COUNT', UNREAD_CAP + 1)
  if entries.err then entries = {} end -- a marker at the end of the id space: nothing lies beyond it
  local unread, mentions = 0, 0
  local removed = 'channel:' .. chid .. ':removed'
  local any_removed = redis.call('EXISTS', removed) == 1 -- most channels have none: skip the lookups
  for _, en in ipairs(entries) do
    local f = {}
    for i = 1, #en[2], 2 do f[en[2][i]] = en[2][i + 1] end
    if f.user ~= uid and not (any_removed and redis.call('HEXISTS', removed, en[1]) == 1) then
      unread = unread + 1
      if lname and f.text and mentions_name(f.text, lname) then mentions = mentions + 1 end
    end
  end
  if unread > UNREAD_CAP then unread = UNREAD_CAP end
  local newest
  if #entries > 0 and #entries <= UNREAD_CAP then
    newest = entries[#entries][1] -- read up to the end of the log
  else -- none after the marker (the newest is at most the marker), or more than were read
    local top = redis.call('XREVRANGE', 'channel:' .. chid .. ':log', '+', '-', 'COUNT', 1)
    newest = top[1] and top[1][1]
  end
  return {unread = unread, mentions = mentions, last_read = last or cjson.null, newest = newest or cjson.null}
end

-- ---------------- help requests (help.h lists the keys) ----------------
-- On duty: help:duty:<cid> maps uid → the device that went on duty; the user is on duty while that device
-- is live in presence:devices and the user is still an expert or mentor of the circle. So duty ends with
-- the device's presence (sign-out, a closed tab, a vanished node), with no timer of its own.

local function help_on_duty(cid, uid, now)
  local dev = redis.call('HGET', 'help:duty:' .. cid, uid)
  if not dev then return false end
  local r = role_of(cid, uid)
  if r ~= 'expert' and r ~= 'mentor' then return false end
  local e = redis.call('ZSCORE', 'presence:devices', uid .. '/' .. dev)
  return (e and tonumber(e) > now) and true or false
end
local function help_duty_count(cid, now)
  local n = 0
  for _, uid in ipairs(redis.call('HKEYS', 'help:duty:' .. cid)) do
    if help_on_duty(cid, uid, now) then n = n + 1 end
  end
  return n
end
-- a taken request whose call is over has been answered (derived when read: no event of its own)
local function help_status(status, call)
  if status == 'taken' and call and redis.call('EXISTS', 'call:' .. call) == 0 then
    return 'answered'
  end
  return status
end
local function help_brief(rid)
-- the `help` object of a help channel message: the request's current status
  local f = redis.call('HMGET', 'help:' .. rid, 'status', 'topic', 'taken_by', 'call')
  local by = cjson.null
  if f[3] then by = brief(f[3]) end
  return {request = rid, status = help_status(f[1] or 'cancelled', f[4]), topic = f[2] or '',
    taken_by = by}
end

-- ---------------- calls (calls.h): for features that put two users straight into an active call ----------------

-- true if the user is in a call (ringing or active) that still exists
local function calls_busy(uid)
  local id = redis.call('GET', 'user:' .. uid .. ':call')
  return (id and redis.call('EXISTS', 'call:' .. id) == 1) and true or false
end
-- writes: call:<id> (caller a on device adev, callee b on device bdev, state active), both users' busy
-- markers with CALL_ACTIVE_TTL and both parties' deadlines (calls:deadlines), then publishes to each
-- party's device the event an accepted call sends:
--   to a:  {"type":"call.accepted","call":id,"peer":b,"polite":false, …extra_a}
--   to b:  {"type":"call.accepted","call":id,"peer":a,"polite":true,  …extra_b}
-- (extra_*: tables of additional members, may be empty). From then on the call is like any accepted call:
-- call.signal, call.hangup, refresh and disconnect handling all apply, and a's side is the impolite one
-- that makes the offer. The caller checks that neither is busy.
local function calls_open_active(id, a, adev, b, bdev, extra_a, extra_b)
  local ttl = CALL_ACTIVE_TTL
  local due = now_ms() + CALL_PARTY_TTL * 1000
  redis.call('ZADD', 'calls:deadlines', due, id .. '|caller', due, id .. '|callee')
  redis.call('HSET', 'call:' .. id, 'caller', a, 'callee', b, 'caller_dev', adev,
    'callee_dev', bdev, 'state', 'active')
  redis.call('EXPIRE', 'call:' .. id, ttl)
  redis.call('SET', 'user:' .. a .. ':call', id, 'EX', ttl)
  redis.call('SET', 'user:' .. b .. ':call', id, 'EX', ttl)
  for _, s in ipairs({{a, adev, b, false, extra_a}, {b, bdev, a, true, extra_b}}) do
    local ev = {type = 'call.accepted', call = id, peer = s[3], polite = s[4]}
    for k, v in pairs(s[5] or {}) do ev[k] = v end
    pub(s[1], 'to_device', s[2], ev)
  end
end

-- ---------------- private rooms (rooms.h): scheduled mentoring makes one per booking ----------------

-- writes: makes or updates the private room rid for users a and b, open from `opens` until `closes` (unix s)
local function private_room_set(rid, name, a, b, opens, closes)
  local k = 'room:' .. rid
  redis.call('HSET', k, 'private', '1', 'name', name, 'standing', '0', 'opens', opens, 'closes', closes)
  redis.call('SADD', k .. ':guests', a, b)
  redis.call('EXPIREAT', k, tonumber(closes) + 86400)
  redis.call('EXPIREAT', k .. ':guests', tonumber(closes) + 86400)
end
-- writes: if rid is a private room, closes it now, takes everyone out and tells the guests (room.closed)
local function private_room_close(rid)
  local k = 'room:' .. rid
  if redis.call('HGET', k, 'private') ~= '1' then return end
  redis.call('HSET', k, 'closes', '0')
  redis.call('DEL', k .. ':members', k .. ':p')
  local ev = '{"type":"room.closed","room":' .. cjson.encode(rid) .. '}'
  for _, g in ipairs(redis.call('SMEMBERS', k .. ':guests')) do redis.call('PUBLISH', 'ev:u:' .. g, ev) end
end

-- ---------------- bookings (schedule.h lists the keys) ----------------

-- a booking (booking:<bid> hash) as its protocol object, nil if there is none
local function booking_obj(bid)
  local b = hash('booking:' .. bid)
  if not b.mentor then return nil end
  return {id = bid, mentor = brief(b.mentor), mentee = brief(b.mentee), start = tonumber(b.start),
    ['end'] = tonumber(b['end']), topic = b.topic or '', status = b.status,
    sequence = tonumber(b.sequence), created = tonumber(b.created), updated = tonumber(b.updated)}
end
-- the circles where uid is a mentor (role mentor)
local function mentor_circles(uid)
  local flat, out = redis.call('HGETALL', 'user:' .. uid .. ':circles'), {}
  for i = 1, #flat, 2 do
    if flat[i + 1] == 'member' and role_of(flat[i], uid) == 'mentor' then out[#out + 1] = flat[i] end
  end
  return out
end
-- a mentee may book a mentor when they share a circle where she is a mentor
local function may_book(mentee, mentor)
  for _, cid in ipairs(mentor_circles(mentor)) do
    if role_of(cid, mentee) then return true end
  end
  return false
end
-- the key prefix of two users' mentoring notes (mentoring:<a>:<b>, a < b)
local function pair_key(a, b)
  if a < b then return 'mentoring:' .. a .. ':' .. b end
  return 'mentoring:' .. b .. ':' .. a
end
-- the other party of booking record b, nil if uid is not one of them
local function other_party(b, uid)
  if b.mentor == uid then return b.mentee end
  if b.mentee == uid then return b.mentor end
  return nil
end

-- ---------------- exports ----------------

-- Adds member to a sorted set scored by time (ms) so that the set keeps arrival order: two members added
-- in the same millisecond get scores a thousandth apart instead of tying (a tie sorts by member, at random).
local function zadd_in_order(key, now, member)
  local score = tonumber(now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) >= score then score = tonumber(last[2]) + 0.001 end
  redis.call('ZADD', key, string.format('%.3f', score), member)
end

lib.fail, lib.now_ms, lib.jarr, lib.hash, lib.record, lib.with_route, lib.pub = fail, now_ms, jarr, hash,
  record, with_route, pub
lib.is_admin, lib.role_of, lib.circle_exists, lib.can_moderate, lib.brief = is_admin, role_of,
  circle_exists, can_moderate, brief
lib.is_online, lib.presence_of, lib.publish_membership, lib.publish_circle = is_online, presence_of,
  publish_membership, publish_circle
lib.help_on_duty, lib.help_duty_count, lib.help_status, lib.help_brief = help_on_duty, help_duty_count,
  help_status, help_brief
lib.calls_busy, lib.calls_open_active = calls_busy, calls_open_active
lib.audit, lib.set_role, lib.message_remove = audit, set_role, message_remove
lib.audit_entry = audit_entry
lib.id_cmp, lib.unread_of = id_cmp, unread_of
lib.zadd_in_order = zadd_in_order
lib.private_room_set, lib.private_room_close = private_room_set, private_room_close
lib.booking_obj, lib.mentor_circles, lib.may_book, lib.pair_key, lib.other_party = booking_obj,
  mentor_circles, may_book, pair_key, other_party

-- Registers fn(keys, args) as the library function `name`. flags: {'no-writes'} for one that only reads,
-- {} for one that writes — or PUBLISHes: Redis 7.0 refuses PUBLISH (a may-replicate command) in a no-writes
-- function. Per-call state is reset before each call.
function lib.register(name, flags, fn)
  redis.register_function{function_name = name, flags = flags, callback = function(keys, args)
    user_cache = {}
    return fn(keys, args)
  end}
end
