-- media.lua — the Redis side of lesson clips (media.c, upload.c): who a session token belongs to, which
-- circles a user is a member of now (for media_acl.h's rule), the media token key, and names of people.
-- Part of the staffroom library (lib.lua explains how it is put together). Clips themselves live in
-- PostgreSQL; nothing here writes except the one-time token key.

local fail, role_of, brief = lib.fail, lib.role_of, lib.brief

-- keys: session:<hash> (from a session token in an HTTP header). {"user":uid} or unauthorized.
lib.register('media_session', {'no-writes'}, function(keys, _)
  local uid = redis.call('GET', keys[1])
  if not uid then return fail('unauthorized', 'sign in again: the session token is unknown or expired') end
  return cjson.encode({user = uid})
end)

-- args: uid. {"circles":[cid, …]}: the circles where uid is a member now (a former member has none).
lib.register('media_circles', {'no-writes'}, function(_, args)
  local uid = args[1]
  local flat, out = redis.call('HGETALL', 'user:' .. uid .. ':circles'), {}
  for i = 1, #flat, 2 do
    if flat[i + 1] == 'member' and role_of(flat[i], uid) then out[#out + 1] = cjson.encode(flat[i]) end
  end
  return '{"circles":' .. lib.jarr(out) .. '}'
end)

-- keys: media:token-key; args: a fresh random key (hex). The community's key for signing media tokens:
-- the first node to start sets it, every node reads the same one.
lib.register('media_token_key', {}, function(keys, args)
  redis.call('SET', keys[1], args[1], 'NX')
  return redis.call('GET', keys[1])
end)

-- args: a user name (any case), or a user id. {"user":{brief}} or not_found.
lib.register('media_person', {'no-writes'}, function(_, args)
  local uid = redis.call('GET', 'username:' .. string.lower(args[1]))
  if not uid and redis.call('EXISTS', 'user:' .. args[1]) == 1 then uid = args[1] end
  if not uid then return fail('not_found', 'no such person') end
  return cjson.encode({user = brief(uid)})
end)
