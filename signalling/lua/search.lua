-- search.lua — the Redis side of chat.search (search.c): which circles a user may search now.
-- Part of the staffroom library (lib.lua explains how it is put together).

local fail, role_of = lib.fail, lib.role_of

-- The text-search configuration of circle cid (circle.set_language; english until set).
local function language_of(cid)
  return redis.call('HGET', 'circle:' .. cid, 'language') or 'english'
end

-- args: uid, circle ("" = all), channel ("" = all). The circles to search: every circle where uid is a
-- member now, or the one named (by circle, or by channel) if uid is a member of it, each with its language:
-- {"circles":[cid, …],"langs":[language, …]}. Errors: not_found (no such channel), forbidden (not a member).
lib.register('chat_search_scope', {'no-writes'}, function(keys, args)
  local uid, cid, chid = args[1], args[2], args[3]
  if chid ~= '' then
    local of = redis.call('HGET', 'channel:' .. chid, 'circle')
    if not of then return fail('not_found', 'no such channel') end
    if cid ~= '' and cid ~= of then return fail('not_found', 'no such channel in this circle') end
    cid = of
  end
  if cid ~= '' then
    if not role_of(cid, uid) then return fail('forbidden', 'only members search a circle') end
    return cjson.encode({circles = {cid}, langs = {language_of(cid)}})
  end
  local flat, out, langs = redis.call('HGETALL', 'user:' .. uid .. ':circles'), {}, {}
  for i = 1, #flat, 2 do
    if flat[i + 1] == 'member' and role_of(flat[i], uid) then
      out[#out + 1] = cjson.encode(flat[i])
      langs[#langs + 1] = cjson.encode(language_of(flat[i]))
    end
  end
  return '{"circles":' .. lib.jarr(out) .. ',"langs":' .. lib.jarr(langs) .. '}'
end)

-- args: uid, cid, language (one of search.c's list). Moderators of the circle and admins set the language
-- its chat is searched and indexed in. A change queues the reindexing of the circle's archived messages
-- (archive:relang, done by the archiver: archive.c) and is written to the circle's audit log.
-- {"language":…,"changed":bool}. Errors: not_found (no such circle), forbidden.
lib.register('circle_set_language', {}, function(keys, args)
  local uid, cid, lang = args[1], args[2], args[3]
  if not lib.circle_exists(cid) then return fail('not_found', 'no such circle') end
  if not lib.can_moderate(cid, uid) then
    return fail('forbidden', 'only moderators of this circle and admins may do this')
  end
  local old = language_of(cid)
  if old == lang then return cjson.encode({language = lang, changed = false}) end
  redis.call('HSET', 'circle:' .. cid, 'language', lang)
  redis.call('SADD', 'archive:relang', cid)
  lib.audit(cid, uid, 'language_set', nil, nil, lang)
  return cjson.encode({language = lang, changed = true})
end)
