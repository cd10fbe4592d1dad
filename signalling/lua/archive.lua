-- archive.lua — the Redis side of the PostgreSQL archive (archive.c): the archiver's lock, which channels
-- have work, reading new (or changed) messages out, and trimming the stream to its hot window once
-- PostgreSQL has them. Part of the staffroom library (lib.lua explains how it is put together).
-- Every message is copied soon after it is sent (so search finds it), and trimmed only when it leaves the
-- hot window. Per channel (channel:<chid> hash): `copied`, the newest id copied; `dirty`, the oldest id
-- edited or deleted since its copy (archive_dirty, called before every edit and deletion), copied again
-- from there. A range is marked copied
-- only if it is still exactly what was read: archive_take returns a digest of it (ids, authors, current
-- texts) and archive_trim checks it, so a change between the two sends the step again instead of being lost.

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

-- Stream ids as numbers (ms has 13 digits, seq is small: exact in a double) and their order.
local function sid(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function before(a, b) -- id a < id b
  local am, as = sid(a)
  local bm, bs = sid(b)
  return am < bm or (am == bm and as < bs)
end

-- args: keep. The channels (of every circle) with work for the archiver — messages not copied yet, a
-- change to copy again (dirty), or more than keep messages — and how many messages wait beyond the windows
-- in all (the archiver's lag), and the circles whose language changed (circle_set_language) and whose
-- archived messages must be reindexed: {"channels":[[chid, cid, language], …],"backlog":N,
-- "relang":[[cid, language], …],"audit":[cid, …]} — audit: the circles whose audit log has entries not
-- copied yet.
lib.register('archive_channels', {'no-writes'}, function(keys, args)
  local keep = tonumber(args[1])
  local out, backlog = {}, 0
  for _, cid in ipairs(redis.call('ZRANGE', 'circles', 0, -1)) do
    local lang = redis.call('HGET', 'circle:' .. cid, 'language') or 'english'
    for _, chid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do
      local log, ch = 'channel:' .. chid .. ':log', 'channel:' .. chid
      local n = redis.call('XLEN', log)
      if n > 0 then
        local newest = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1][1]
        local copied = redis.call('HGET', ch, 'copied')
        if n > keep or not copied or before(copied, newest) or redis.call('HEXISTS', ch, 'dirty') == 1 then
          out[#out + 1] = cjson.encode({chid, cid, lang})
        end
        if n > keep then backlog = backlog + n - keep end
      end
    end
  end
  local audit = {}
  for _, cid in ipairs(redis.call('ZRANGE', 'circles', 0, -1)) do
    local newest = redis.call('XREVRANGE', 'circle:' .. cid .. ':audit', '+', '-', 'COUNT', 1)[1]
    local copied = redis.call('HGET', 'circle:' .. cid, 'audit_copied')
    if newest and (not copied or before(copied, newest[1])) then audit[#audit + 1] = cjson.encode(cid) end
  end
  local relang = {}
  for _, cid in ipairs(redis.call('SMEMBERS', 'archive:relang')) do
    relang[#relang + 1] = cjson.encode({cid, redis.call('HGET', 'circle:' .. cid, 'language') or 'english'})
  end
  return '{"channels":' .. lib.jarr(out) .. ',"backlog":' .. string.format('%d', backlog) ..
    ',"relang":' .. lib.jarr(relang) .. ',"audit":' .. lib.jarr(audit) .. '}'
end)

-- args: cid, language. The archive reindexed circle cid in language: it leaves archive:relang, unless its
-- language changed again meanwhile (then the next round reindexes it once more). Returns 1 if it left.
lib.register('archive_relang_done', {}, function(keys, args)
  local cid, lang = args[1], args[2]
  if (redis.call('HGET', 'circle:' .. cid, 'language') or 'english') ~= lang then return 0 end
  return redis.call('SREM', 'archive:relang', cid)
end)

-- args: cid, batch. The audit log entries of circle cid not copied yet (after audit_copied), at most batch,
-- as moderation.audit shows them: {"n":N,"last":id,"rows":"[{ms,seq,entry}…]"} (n 0: none).
lib.register('archive_audit_take', {'no-writes'}, function(keys, args)
  local cid, batch = args[1], tonumber(args[2])
  local copied = redis.call('HGET', 'circle:' .. cid, 'audit_copied')
  local entries = redis.call('XRANGE', 'circle:' .. cid .. ':audit', copied and ('(' .. copied) or '-', '+', 'COUNT', batch)
  if #entries == 0 then return '{"n":0}' end
  local rows = {}
  for i, en in ipairs(entries) do
    local ms, seq = string.match(en[1], '^(%d+)-(%d+)$')
    rows[i] = {ms = ms, seq = seq, entry = lib.audit_entry(en[1], en[2])}
  end
  return cjson.encode({n = #entries, last = entries[#entries][1], rows = cjson.encode(rows)})
end)

-- args: cid, last. PostgreSQL committed circle cid's audit entries up to last: audit_copied moves there and
-- the stream keeps only what is newer (moderation.audit reads the rest from PostgreSQL). Returns the number
-- of entries trimmed.
lib.register('archive_audit_done', {}, function(keys, args)
  local cid, last = args[1], args[2]
  local ch, log = 'circle:' .. cid, 'circle:' .. cid .. ':audit'
  local copied = redis.call('HGET', ch, 'audit_copied')
  if copied and not before(copied, last) then return 0 end
  redis.call('HSET', ch, 'audit_copied', last)
  local ms, seq = sid(last)
  return redis.call('XTRIM', log, 'MINID', string.format('%d-%d', ms, seq + 1))
end)

-- args: holder. Gives the archiver's lock back if holder has it (a node stopping: SIGTERM), so that another
-- node takes over at its next round instead of after archive-lock-ttl. Returns 1 if it was held.
lib.register('archive_unlock', {}, function(keys, args)
  if redis.call('GET', 'archive:lock') ~= args[1] then return 0 end
  return redis.call('DEL', 'archive:lock')
end)

-- The rows of stream entries (as XRANGE returns them) for PostgreSQL, and their digest.
-- A message a moderator removed (channel:<chid>:removed, id → who: the moderation feature's tombstones)
-- is copied as its tombstone: no text (so search cannot find it), `removed` in its object.
local function rows_of(chid, entries)
  local rows, parts = {}, {}
  local edits, removed = 'channel:' .. chid .. ':edits', 'channel:' .. chid .. ':removed'
  for i, en in ipairs(entries) do
    local id, f = en[1], {}
    for j = 1, #en[2], 2 do f[en[2][j]] = en[2][j + 1] end
    local text, edited = f.text, false
    local e = redis.call('HGET', edits, id)
    if e then text, edited = e, true end
    local gone = redis.call('HGET', removed, id)
    if gone then text, edited = '', false end
    local ms, seq = string.match(id, '^(%d+)-(%d+)$')
    local m = {id = id, channel = chid, user = brief(f.user), text = text, ts = tonumber(ms), edited = edited,
      removed = gone or nil}
    if f.help then m.help = help_brief(f.help) end
    rows[i] = {ms = ms, seq = seq, author = f.user, body = text, edited = edited, msg = m}
    parts[#parts + 1] = id .. '\0' .. (f.user or '') .. '\0' .. text .. '\0' .. (gone or '')
  end
  return rows, redis.sha1hex(table.concat(parts, '\0'))
end

-- args: chid, batch. The next messages to copy (at most batch): from the oldest changed one (dirty), or
-- after the newest copied one (copied), or from the start. {"n":0,"dirty":…} when there are none, else
-- {"n":N,"from":id,"first":id,"last":id,"digest":hex,"dirty":id or "","rows":"<JSON array for PostgreSQL>"};
-- `from` (inclusive) .. `last` is the range PostgreSQL must hold exactly (a deleted message included).
lib.register('archive_take', {'no-writes'}, function(keys, args)
  local chid, batch = args[1], tonumber(args[2])
  local ch, log = 'channel:' .. chid, 'channel:' .. chid .. ':log'
  local dirty = redis.call('HGET', ch, 'dirty')
  local copied = redis.call('HGET', ch, 'copied')
  local start = dirty or (copied and '(' .. copied) or '-'
  local entries = redis.call('XRANGE', log, start, '+', 'COUNT', batch)
  if #entries == 0 then return cjson.encode({n = 0, dirty = dirty or ''}) end
  local rows, digest = rows_of(chid, entries)
  -- PostgreSQL deletes what it has in [from, last] that is not in rows: never let that range reach below
  -- the stream's oldest message (what is below was trimmed, and lives only in PostgreSQL)
  local from = entries[1][1]
  local oldest = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1][1]
  if dirty and not before(dirty, oldest) then from = dirty end
  return cjson.encode({n = #entries, from = from, first = entries[1][1],
    last = entries[#entries][1], digest = digest, dirty = dirty or '', rows = cjson.encode(rows)})
end)

-- args: chid, keep, first, last, digest, dirty (as archive_take answered; first "" when it took nothing).
-- Called once PostgreSQL committed the copy. If [first, last] still has the digest, it is copied: `copied`
-- moves to last, and `dirty` is cleared unless a newer change set it meanwhile. Then the stream is trimmed
-- to its hot window (keep), never past a message not copied yet, and the trimmed messages' edits are
-- forgotten; `archived` (newest trimmed id) tells chat.history that older pages are in PostgreSQL.
-- Returns the number trimmed, or -1 if the range changed (copy it again).
lib.register('archive_trim', {}, function(keys, args)
  local chid, keep, first, last, digest, dirty = args[1], tonumber(args[2]), args[3], args[4], args[5], args[6]
  local ch, log = 'channel:' .. chid, 'channel:' .. chid .. ':log'
  if first ~= '' then
    local _, now = rows_of(chid, redis.call('XRANGE', log, first, last))
    if now ~= digest then return -1 end
    local copied = redis.call('HGET', ch, 'copied')
    if not copied or before(copied, last) then redis.call('HSET', ch, 'copied', last) end
    if (redis.call('HGET', ch, 'dirty') or '') == dirty then redis.call('HDEL', ch, 'dirty') end
  end
  local copied = redis.call('HGET', ch, 'copied')
  if not copied or redis.call('XLEN', log) <= keep then return 0 end
  -- the bound (exclusive): the window's oldest message, the one after the newest copied, the oldest dirty one
  local window = redis.call('XREVRANGE', log, '+', '-', 'COUNT', keep)
  local bound = window[#window][1]
  local cm, cs = sid(copied)
  local after_copied = string.format('%d-%d', cm, cs + 1)
  if before(after_copied, bound) then bound = after_copied end
  local d = redis.call('HGET', ch, 'dirty')
  if d and before(d, bound) then bound = d end
  local gone = redis.call('XRANGE', log, '-', '(' .. bound)
  if #gone == 0 then return 0 end
  local ids = {}
  for i, en in ipairs(gone) do ids[i] = en[1] end
  redis.call('HDEL', 'channel:' .. chid .. ':edits', unpack(ids))
  redis.call('HDEL', 'channel:' .. chid .. ':removed', unpack(ids)) -- the copies keep the tombstones
  redis.call('HSET', ch, 'archived', ids[#ids])
  redis.call('XTRIM', log, 'MINID', bound)
  return #ids
end)

-- args: chid, id. Called (history.c) just before an edit or a deletion of message id: if the message is
-- still in the stream and the archive copied it already, the channel becomes dirty from it, so the archiver
-- copies it again and trims nothing from it on. Marking before the change (not after) leaves no moment
-- where the old copy could be trimmed. A message no longer in the stream is changed in PostgreSQL itself
-- (history.c): marking it would make the archiver treat every archived message after it as deleted.
lib.register('archive_dirty', {}, function(keys, args)
  local chid, id = args[1], args[2]
  local ch = 'channel:' .. chid
  local copied = redis.call('HGET', ch, 'copied')
  if not copied or before(copied, id) then return 0 end
  if #redis.call('XRANGE', 'channel:' .. chid .. ':log', id, id) == 0 then return 0 end
  local d = redis.call('HGET', ch, 'dirty')
  if not d or before(id, d) then redis.call('HSET', ch, 'dirty', id) end
  return 1
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
