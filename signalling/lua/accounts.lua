-- accounts.lua — sign-up, sign-in and profiles (accounts.c): user:<uid>, username:<lname>, session:<hash>.
-- Part of the staffroom library (lib.lua explains how it is put together).




-- args: lname, uid, name, display_name, pwhash, admin, created_ms, session key ('' = none), ttl_s.
lib.register('accounts_register', {}, function(keys, args)
  if redis.call('EXISTS', 'username:' .. args[1]) == 1 then
    return redis.error_reply('conflict: that name is taken')
  end
  redis.call('SET', 'username:' .. args[1], args[2])
  redis.call('HSET', 'user:' .. args[2], 'name', args[3], 'display_name', args[4], 'school', '',
    'subjects', '[]', 'tz', 'UTC', 'bio', '', 'pwhash', args[5], 'admin', args[6], 'created', args[7])
  if args[8] ~= '' then redis.call('SET', args[8], args[2], 'EX', tonumber(args[9])) end
  return {redis.call('HGETALL', 'user:' .. args[2]), {}}
end)

-- args: lname → {uid, pwhash}, or {'', ''} for an unknown name (which is then checked against a dummy
-- hash, so that the answer takes as long as for a wrong password: no user enumeration by timing).
lib.register('accounts_lookup', {'no-writes'}, function(keys, args)
  local uid = redis.call('GET', 'username:' .. args[1])
  if not uid then return {'', ''} end
  local h = redis.call('HGET', 'user:' .. uid, 'pwhash')
  if not h then return {'', ''} end
  return {uid, h}
end)

-- args: session key, uid, ttl_s → {user hash, user's circles}.
lib.register('accounts_session', {}, function(keys, args)
  redis.call('SET', args[1], args[2], 'EX', tonumber(args[3]))
  return {redis.call('HGETALL', 'user:' .. args[2]), redis.call('HGETALL', 'user:' .. args[2] .. ':circles')}
end)

-- args: session key → {user hash, circles, pttl_ms, uid}.
lib.register('accounts_resume', {'no-writes'}, function(keys, args)
  local uid = redis.call('GET', args[1])
  if not uid then return redis.error_reply('unauthorized: unknown or expired token') end
  return {redis.call('HGETALL', 'user:' .. uid), redis.call('HGETALL', 'user:' .. uid .. ':circles'),
    redis.call('PTTL', args[1]), uid}
end)

-- args: uid, then field/value pairs → the user hash.
lib.register('accounts_profile_update', {}, function(keys, args)
  if redis.call('EXISTS', 'user:' .. args[1]) == 0 then return redis.error_reply('not_found: no such user') end
  for i = 2, #args - 1, 2 do redis.call('HSET', 'user:' .. args[1], args[i], args[i + 1]) end
  return redis.call('HGETALL', 'user:' .. args[1])
end)
