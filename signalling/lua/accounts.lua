-- accounts.lua — sign-up, sign-in, sessions and profiles (accounts.c): user:<uid>, username:<lname>,
-- session:<hash>, user:<uid>:sessions, caltoken:<hash>.
-- Part of the staffroom library (lib.lua explains how it is put together).
-- The keys the C side can name are KEYS; a user found through a name or a session is built inside, and so
-- are the session:<hash> keys of a user's other sessions (named by the user's sessions hash, not the request).
--
-- Sessions: session:<hash> → uid (hash: SHA-256 of the token, hex; expires after token-lifetime) is what a
-- token signs in with; user:<uid>:sessions (hash → JSON {device, created, last_seen}, unix ms) lists them
-- for auth.sessions. Ending a session deletes both and publishes {"type":"auth.signed_out","user","reason"}
-- on ev:s:<hash>, which every node with a connection signed in with that session is subscribed to (conn.c):
-- those connections are signed out at once, wherever they are.

local fail, now_ms = lib.fail, lib.now_ms

-- writes: records session h in the sessions hash skey: device ('' keeps the one known), the address it
-- was last used from, last seen now
local function session_note(skey, h, device, address)
  local now = now_ms()
  local old = redis.call('HGET', skey, h)
  local s = old and cjson.decode(old) or {device = '', created = now}
  if device ~= '' then s.device = device end
  s.address = address or ''
  s.last_seen = now
  redis.call('HSET', skey, h, cjson.encode(s))
end

-- writes: ends session h of uid: its token stops working, its connections are signed out on every node
local function session_end(uid, skey, h, reason)
  redis.call('DEL', 'session:' .. h)
  redis.call('HDEL', skey, h)
  redis.call('PUBLISH', 'ev:s:' .. h, cjson.encode({type = 'auth.signed_out', user = uid, reason = reason}))
end

-- writes: ends every session of uid but `keep` ('' = none); returns how many
local function sessions_end_all(uid, skey, keep, reason)
  local n = 0
  for _, h in ipairs(redis.call('HKEYS', skey)) do
    if h ~= keep then
      session_end(uid, skey, h, reason)
      n = n + 1
    end
  end
  return n
end

-- keys: username:<lname>, user:<uid>, user:<uid>:sessions. args: uid, name, display_name, pwhash, admin,
-- created_ms, session key ('' = none: an argument, as it is optional), ttl_s, device, address
-- → {user hash, {}}.
lib.register('accounts_register', {}, function(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then
    return redis.error_reply('conflict: that name is taken')
  end
  redis.call('SET', keys[1], args[1])
  redis.call('HSET', keys[2], 'name', args[2], 'display_name', args[3], 'school', '',
    'subjects', '[]', 'tz', 'UTC', 'bio', '', 'pwhash', args[4], 'admin', args[5], 'created', args[6])
  if args[7] ~= '' then
    redis.call('SET', args[7], args[1], 'EX', tonumber(args[8]))
    session_note(keys[3], string.sub(args[7], 9), args[9] or '', args[10])
  end
  return {redis.call('HGETALL', keys[2]), {}}
end)

-- keys: username:<lname> → {uid, pwhash}, or {'', ''} for an unknown name (which is then checked against a
-- dummy hash, so that the answer takes as long as for a wrong password: no user enumeration by timing).
lib.register('accounts_lookup', {'no-writes'}, function(keys)
  local uid = redis.call('GET', keys[1])
  if not uid then return {'', ''} end
  local h = redis.call('HGET', 'user:' .. uid, 'pwhash') -- the user the name leads to
  if not h then return {'', ''} end
  return {uid, h}
end)

-- keys: session key, user:<uid>, user:<uid>:circles, user:<uid>:sessions. args: uid, ttl_s, device, address
-- → {user hash, user's circles}. A suspended account (admin.suspend: moderation.lua) gets no session.
lib.register('accounts_session', {}, function(keys, args)
  if redis.call('HEXISTS', keys[2], 'suspended') == 1 then return fail('suspended', 'this account is suspended') end
  redis.call('SET', keys[1], args[1], 'EX', tonumber(args[2]))
  session_note(keys[4], string.sub(keys[1], 9), args[3] or '', args[4])
  return {redis.call('HGETALL', keys[2]), redis.call('HGETALL', keys[3])}
end)

-- keys: session key. args: device ('' = keep), address → {user hash, circles, pttl_ms, uid}. Notes the session
-- as seen now (auth.sessions' last_seen).
lib.register('accounts_resume', {}, function(keys, args)
  local uid = redis.call('GET', keys[1])
  if not uid then return redis.error_reply('unauthorized: unknown or expired token') end
  if redis.call('HEXISTS', 'user:' .. uid, 'suspended') == 1 then
    return fail('suspended', 'this account is suspended')
  end
  -- the user the session leads to, and its sessions hash
  session_note('user:' .. uid .. ':sessions', string.sub(keys[1], 9), args[1] or '', args[2])
  return {redis.call('HGETALL', 'user:' .. uid), redis.call('HGETALL', 'user:' .. uid .. ':circles'),
    redis.call('PTTL', keys[1]), uid}
end)

-- keys: session key, user:<uid> → 1 while the session lives and the account is not suspended, 0 once the
-- session ended, -1 when the account is suspended (checked again once a sign-in's channels are live).
lib.register('accounts_session_live', {'no-writes'}, function(keys)
  if redis.call('EXISTS', keys[1]) == 0 then return 0 end
  if redis.call('HEXISTS', keys[2], 'suspended') == 1 then return -1 end
  return 1
end)

-- keys: user:<uid>. args: field/value pairs → the user hash.
lib.register('accounts_profile_update', {}, function(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then return redis.error_reply('not_found: no such user') end
  for i = 1, #args - 1, 2 do redis.call('HSET', keys[1], args[i], args[i + 1]) end
  return redis.call('HGETALL', keys[1])
end)

-- keys: user:<uid>:sessions. args: uid, session hash, reason. Ends that session (auth.logout, and
-- auth.session_end, for which one that is not the user's is not_found).
lib.register('accounts_session_end', {}, function(keys, args)
  if redis.call('HEXISTS', keys[1], args[2]) == 0 and redis.call('GET', 'session:' .. args[2]) ~= args[1] then
    return fail('not_found', 'no such session')
  end
  session_end(args[1], keys[1], args[2], args[3])
  return ''
end)

-- keys: user:<uid>:sessions. args: uid, session to keep ('' = none), reason → {"ended": n}.
lib.register('accounts_logout_all', {}, function(keys, args)
  return cjson.encode({ended = sessions_end_all(args[1], keys[1], args[2], args[3])})
end)

-- keys: user:<uid>:sessions. args: the asking connection's session hash → {"sessions": [{session, device,
-- created, last_seen, current}]}, most recently seen first. Entries whose token expired are dropped.
lib.register('accounts_sessions', {}, function(keys, args)
  local flat, out = redis.call('HGETALL', keys[1]), {}
  for i = 1, #flat, 2 do
    if redis.call('EXISTS', 'session:' .. flat[i]) == 0 then
      redis.call('HDEL', keys[1], flat[i])
    else
      local s = cjson.decode(flat[i + 1])
      out[#out + 1] = {session = flat[i], device = s.device or '', address = s.address or '', created = s.created,
        last_seen = s.last_seen, current = flat[i] == args[1]}
    end
  end
  table.sort(out, function(a, b) return (a.last_seen or 0) > (b.last_seen or 0) end)
  local items = {}
  for i, s in ipairs(out) do items[i] = cjson.encode(s) end
  return '{"sessions":' .. lib.jarr(items) .. '}'
end)

-- keys: user:<uid> → its password hash ('' if none).
lib.register('accounts_pwhash', {'no-writes'}, function(keys)
  return redis.call('HGET', keys[1], 'pwhash') or ''
end)

-- keys: user:<uid>, user:<uid>:sessions. args: uid, new password hash, session to keep → {"ended": n}.
-- The new password and the end of every other session are one step: no window where an old session
-- outlives the change.
lib.register('accounts_password_set', {}, function(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then return fail('not_found', 'no such user') end
  redis.call('HSET', keys[1], 'pwhash', args[2])
  return cjson.encode({ended = sessions_end_all(args[1], keys[2], args[3], 'password_changed')})
end)

-- Calendar tokens: one per user, read-only (GET /ics/… only), revocable. caltoken:<hash> → uid is the
-- lookup; user:<uid> keeps the token itself (caltoken) and its hash (caltoken_hash), so the user can see
-- the same link again, and the old one is deleted when it is replaced or revoked.

-- keys: user:<uid>. args: uid, a fresh token, its hash, rotate ('1': replace an existing one)
-- → {"token": the user's calendar token}.
lib.register('calendar_token', {}, function(keys, args)
  local old = redis.call('HMGET', keys[1], 'caltoken', 'caltoken_hash')
  if old[1] and args[4] ~= '1' then return cjson.encode({token = old[1]}) end
  if old[2] then redis.call('DEL', 'caltoken:' .. old[2]) end
  redis.call('HSET', keys[1], 'caltoken', args[2], 'caltoken_hash', args[3])
  redis.call('SET', 'caltoken:' .. args[3], args[1])
  return cjson.encode({token = args[2]})
end)

-- keys: user:<uid>. Revokes the user's calendar token (if any).
lib.register('calendar_revoke', {}, function(keys)
  local h = redis.call('HGET', keys[1], 'caltoken_hash')
  if h then redis.call('DEL', 'caltoken:' .. h) end
  redis.call('HDEL', keys[1], 'caltoken', 'caltoken_hash')
  return ''
end)
