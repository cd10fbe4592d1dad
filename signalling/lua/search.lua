-- search.lua — the Redis side of chat.search (search.c): which circles a user may search now.
-- Part of the staffroom library (lib.lua explains how it is put together).

local fail, role_of = lib.fail, lib.role_of

-- args: uid, circle ("" = all), channel ("" = all). The circles to search: every circle where uid is a
-- member now, or the one named (by circle, or by channel) if uid is a member of it:
-- {"circles":[cid, …]}. Errors: not_found (no such channel), forbidden (not a member).
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
    return cjson.encode({circles = {cid}})
  end
  local flat, out = redis.call('HGETALL', 'user:' .. uid .. ':circles'), {}
  for i = 1, #flat, 2 do
    if flat[i + 1] == 'member' and role_of(flat[i], uid) then out[#out + 1] = cjson.encode(flat[i]) end
  end
  return '{"circles":' .. lib.jarr(out) .. '}'
end)
