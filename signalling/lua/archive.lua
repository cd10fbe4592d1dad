-- archive.lua — the Redis side of the PostgreSQL archive (archive.c): the archiver's lock, which channels
-- have messages beyond their hot window, reading them out, and trimming them once PostgreSQL has them.
-- Part of the staffroom library (lib.lua explains how it is put together).
-- A message is trimmed only if it is still exactly what was copied: archive_take returns a digest of the
-- range it read (ids, authors, current texts) and archive_trim trims only if the range still has it, so an
-- edit or a deletion between the two sends the archiver round again instead of being lost.

local brief, help_brief = lib.brief, lib.help_brief

-- args: holder (a random token per node), ttl (ms). Takes the community's archiver lock, or renews it if
-- holder has it already. Returns 1 if holder has the lock now, else 0.
lib.register('archive_lock', {}, function(keys, args)
  local holder, ttl = args[1], args[2]
  local cur = redis.call('GET', 'archive:lock')
  if cur == holder then
    redis.call('PEXPIRE', 'archive:lock', ttl)
    return 1
  end
  if redis.call('SET', 'archive:lock', holder, 'NX', 'PX', ttl) then return 1 end
  return 0
end)

-- args: keep. The channels (of every circle) whose stream holds more than keep messages, and how many
-- messages wait beyond the windows in all (the archiver's lag): {"channels":[[chid, cid], …],"backlog":N}.
lib.register('archive_channels', {'no-writes'}, function(keys, args)
  local keep = tonumber(args[1])
  local out, backlog = {}, 0
  for _, cid in ipairs(redis.call('ZRANGE', 'circles', 0, -1)) do
    for _, chid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do
      local n = redis.call('XLEN', 'channel:' .. chid .. ':log')
      if n > keep then
        out[#out + 1] = cjson.encode({chid, cid})
        backlog = backlog + n - keep
      end
    end
  end
  return '{"channels":' .. lib.jarr(out) .. ',"backlog":' .. string.format('%d', backlog) .. '}'
end)

-- The rows of stream entries (as XRANGE returns them) for PostgreSQL, and their digest.
local function rows_of(chid, entries)
  local rows, parts = {}, {}
  local edits = 'channel:' .. chid .. ':edits'
  for i, en in ipairs(entries) do
    local id, f = en[1], {}
    for j = 1, #en[2], 2 do f[en[2][j]] = en[2][j + 1] end
    local text, edited = f.text, false
    local e = redis.call('HGET', edits, id)
    if e then text, edited = e, true end
    local ms, seq = string.match(id, '^(%d+)-(%d+)$')
    local m = {id = id, channel = chid, user = brief(f.user), text = text, ts = tonumber(ms), edited = edited}
    if f.help then m.help = help_brief(f.help) end
    rows[i] = {ms = ms, seq = seq, author = f.user, body = text, edited = edited, msg = m}
    parts[#parts + 1] = id .. '\0' .. (f.user or '') .. '\0' .. text
  end
  return rows, redis.sha1hex(table.concat(parts, '\0'))
end

-- args: chid, keep, batch. The oldest messages beyond the hot window (at most batch):
-- {"n":N,"first":id,"last":id,"digest":hex,"rows":"<JSON array for PostgreSQL>"}, or {"n":0}.
lib.register('archive_take', {'no-writes'}, function(keys, args)
  local chid, keep, batch = args[1], tonumber(args[2]), tonumber(args[3])
  local log = 'channel:' .. chid .. ':log'
  local n = math.min(redis.call('XLEN', log) - keep, batch)
  if n <= 0 then return '{"n":0}' end
  local entries = redis.call('XRANGE', log, '-', '+', 'COUNT', n)
  local rows, digest = rows_of(chid, entries)
  return cjson.encode({n = #entries, first = entries[1][1], last = entries[#entries][1], digest = digest,
    rows = cjson.encode(rows)})
end)

-- args: chid, first, last, digest, minid (the id just after last). Trims the stream below minid if
-- [first, last] is still what archive_take read (digest), and forgets those messages' edits; records the
-- last archived id in channel:<chid> (archived), which tells chat.history that older pages are in
-- PostgreSQL. Returns the number trimmed, or -1 if the range changed (archive it again).
lib.register('archive_trim', {}, function(keys, args)
  local chid, first, last, digest, minid = args[1], args[2], args[3], args[4], args[5]
  local log = 'channel:' .. chid .. ':log'
  local entries = redis.call('XRANGE', log, first, last)
  local _, now = rows_of(chid, entries)
  if #entries == 0 or now ~= digest then return -1 end
  local ids = {}
  for i, en in ipairs(entries) do ids[i] = en[1] end
  redis.call('HDEL', 'channel:' .. chid .. ':edits', unpack(ids))
  redis.call('HSET', 'channel:' .. chid, 'archived', last)
  return redis.call('XTRIM', log, 'MINID', minid)
end)

-- args: uid, chid. For an edit or deletion of an archived message (no longer in the stream): the user's
-- standing in the channel's circle, checked as for any chat request: {"circle":cid,"moderates":bool}.
lib.register('chat_archived_auth', {'no-writes'}, function(keys, args)
  local uid, chid = args[1], args[2]
  local cid = redis.call('HGET', 'channel:' .. chid, 'circle')
  if not cid then return lib.fail('not_found', 'no such channel') end
  local role = lib.role_of(cid, uid)
  if not role then return lib.fail('forbidden', 'only members of the circle use its channels') end
  return cjson.encode({circle = cid, moderates = role == 'moderator' or lib.is_admin(uid)})
end)

-- args: cid, event (JSON text). The chat.updated / chat.deleted event of an archived message, to the circle.
lib.register('chat_archived_publish', {}, function(keys, args)
  redis.call('PUBLISH', 'ev:c:' .. args[1], args[2])
  return ''
end)
