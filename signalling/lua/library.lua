-- library.lua — the Redis side of the circle library (library.c): which circles a user is a member of now
-- and which of them they moderate. Part of the staffroom library (lib.lua explains how it is put together).
-- The library itself lives in PostgreSQL; nothing here writes.

local role_of, is_admin = lib.role_of, lib.is_admin

-- args: uid. {"circles":[cid…],"moderates":[cid…],"admin":bool}: member now (a former member has none),
-- moderator now; an admin may withdraw from any library.
lib.register('library_scope', {'no-writes'}, function(_, args)
  local uid = args[1]
  local flat, member, moderates = redis.call('HGETALL', 'user:' .. uid .. ':circles'), {}, {}
  for i = 1, #flat, 2 do
    local role = flat[i + 1] == 'member' and role_of(flat[i], uid)
    if role then
      member[#member + 1] = cjson.encode(flat[i])
      if role == 'moderator' then moderates[#moderates + 1] = cjson.encode(flat[i]) end
    end
  end
  return '{"circles":' .. lib.jarr(member) .. ',"moderates":' .. lib.jarr(moderates) ..
    ',"admin":' .. (is_admin(uid) and 'true' or 'false') .. '}'
end)
