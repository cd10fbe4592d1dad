-- readmark.lua — read markers and unread counts (readmark.c).
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside from the ids in args: readmark:<uid> (hash channel id → the id of the last message
-- the user has read there), the channel's circle and log, the user's circles.

local fail, id_cmp, jarr, role_of, unread_of = lib.fail, lib.id_cmp, lib.jarr, lib.role_of, lib.unread_of

-- args: uid, chid, message id → {message: the marker now stored}. The marker never moves backwards, and
-- never past the channel's newest message (a client's clock cannot mark future messages read).
lib.register('channel_read', {}, function(keys, args)
  local uid, chid, mid = args[1], args[2], args[3]
  local cid = redis.call('HGET', 'channel:' .. chid, 'circle')
  if not cid then return fail('not_found', 'no such channel') end
  if not role_of(cid, uid) then return fail('forbidden', 'only members of the circle use its channels') end
  local newest = redis.call('XREVRANGE', 'channel:' .. chid .. ':log', '+', '-', 'COUNT', 1)
  if #newest == 0 then return fail('not_found', 'this channel has no messages') end
  if id_cmp(mid, newest[1][1]) > 0 then mid = newest[1][1] end
  local k = 'readmark:' .. uid
  local old = redis.call('HGET', k, chid)
  if old and id_cmp(mid, old) <= 0 then return cjson.encode({message = old}) end
  redis.call('HSET', k, chid, mid)
  redis.call('PUBLISH', 'ev:u:' .. uid, cjson.encode({type = 'channel.read', circle = cid, channel = chid,
    message = mid}))
  return cjson.encode({message = mid})
end)

-- args: uid → {circles: [{circle, unread, mentions, channels: [{channel, unread, mentions, last_read, newest}]}]}
-- for every circle the user is a member of. Bounded per channel (lib.unread_of reads at most 101 messages).
lib.register('unread_counts', {'no-writes'}, function(keys, args)
  local uid = args[1]
  local lname = string.lower(redis.call('HGET', 'user:' .. uid, 'name') or '')
  local flat, out = redis.call('HGETALL', 'user:' .. uid .. ':circles'), {}
  for i = 1, #flat, 2 do
    local cid = flat[i]
    if flat[i + 1] == 'member' and role_of(cid, uid) then
      local chans, unread, mentions = {}, 0, 0
      for _, chid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do
        local u = unread_of(chid, uid, lname)
        unread, mentions = unread + u.unread, mentions + u.mentions
        chans[#chans + 1] = cjson.encode({channel = chid, unread = u.unread, mentions = u.mentions,
          last_read = u.last_read, newest = u.newest})
      end
      out[#out + 1] = '{"circle":' .. cjson.encode(cid) .. ',"unread":' .. unread .. ',"mentions":' .. mentions ..
        ',"channels":' .. jarr(chans) .. '}'
    end
  end
  return '{"circles":' .. jarr(out) .. '}'
end)
