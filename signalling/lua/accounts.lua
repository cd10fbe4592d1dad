-- accounts.lua — sign-up, sign-in and profiles (accounts.c): user:<uid>, username:<lname>, session:<hash>.
-- Part of the staffroom library (lib.lua explains how it is put together).
-- The keys the C side can name are KEYS; a user found through a name or a session is built inside.

-- keys: username:<lname>, user:<uid>. args: uid, name, display_name, pwhash, admin, created_ms,
-- session key ('' = none: an argument, as it is optional), ttl_s → {user hash, {}}.
lib.register('accounts_register', {}, function(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then
    return redis.error_reply('conflict: that name is taken')
  end
  redis.call('SET', keys[1], args[1])
  redis.call('HSET', keys[2], 'name', args[2], 'display_name', args[3], 'school', '',
    'subjects', '[]', 'tz', 'UTC', 'bio', '', 'pwhash', args[4], 'admin', args[5], 'created', args[6])
  if args[7] ~= '' then redis.call('SET', args[7], args[1], 'EX', tonumber(args[8])) end
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

-- keys: session key, user:<uid>, user:<uid>:circles. args: uid, ttl_s → {user hash, user's circles}.
lib.register('accounts_session', {}, function(keys, args)
  redis.call('SET', keys[1], args[1], 'EX', tonumber(args[2]))
  return {redis.call('HGETALL', keys[2]), redis.call('HGETALL', keys[3])}
end)

-- keys: session key → {user hash, circles, pttl_ms, uid}.
lib.register('accounts_resume', {'no-writes'}, function(keys)
  local uid = redis.call('GET', keys[1])
  if not uid then return redis.error_reply('unauthorized: unknown or expired token') end
  -- the user the session leads to
  return {redis.call('HGETALL', 'user:' .. uid), redis.call('HGETALL', 'user:' .. uid .. ':circles'),
    redis.call('PTTL', keys[1]), uid}
end)

-- keys: user:<uid>. args: field/value pairs → the user hash.
lib.register('accounts_profile_update', {}, function(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then return redis.error_reply('not_found: no such user') end
  for i = 1, #args - 1, 2 do redis.call('HSET', keys[1], args[i], args[i + 1]) end
  return redis.call('HGETALL', keys[1])
end)
