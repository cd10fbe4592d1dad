-- rooms.lua — drop-in rooms (rooms.c): rooms and participants, the cap, refresh and sweep of expired
-- participants. Lists are built as JSON text by hand: cjson encodes an empty table as {} where the protocol
-- wants [].
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside from the ids in args: a room leads to its circle or guests and participants (found
-- while running); refresh and sweep name many rooms at once.

local now_ms, is_admin, private_room_close, with_route = lib.now_ms, lib.is_admin, lib.private_room_close,
  lib.with_route

local function is_member(cid, uid) return redis.call('HEXISTS', 'circle:' .. cid .. ':members', uid) == 1 end
local function expire(rid, now)
  local gone = redis.call('ZRANGEBYSCORE', 'room:' .. rid .. ':members', '-inf', now)
  for _, d in ipairs(gone) do
    redis.call('ZREM', 'room:' .. rid .. ':members', d)
    redis.call('HDEL', 'room:' .. rid .. ':p', d)
  end
  return #gone
end
local function participants(rid)
  local devs = redis.call('ZRANGE', 'room:' .. rid .. ':members', 0, -1)
  local out = {}
  for _, d in ipairs(devs) do
    local p = redis.call('HGET', 'room:' .. rid .. ':p', d)
    if p then out[#out + 1] = p end
  end
  return '[' .. table.concat(out, ',') .. ']'
end
-- The roster's revision: bumped by every announce, carried by the events and by room objects, so that a
-- client which gets its join answer and the events of other joins in either order (they come over
-- different Redis connections) keeps the newest roster.
local function room_json(rid)
  local r = redis.call('HMGET', 'room:' .. rid, 'circle', 'name', 'standing', 'private', 'rev')
  return '{"id":' .. cjson.encode(rid) .. ',"circle":' .. (r[1] and cjson.encode(r[1]) or 'null')
    .. ',"name":' .. cjson.encode(r[2]) .. ',"standing":' .. (r[3] == '1' and 'true' or 'false')
    .. ',"private":' .. (r[4] == '1' and 'true' or 'false') .. ',"rev":' .. (tonumber(r[5]) or 0)
    .. ',"participants":' .. participants(rid) .. '}'
end
-- a circle room's events go to the circle; a private room's to its guests
local function announce(rid)
  local r = redis.call('HMGET', 'room:' .. rid, 'circle', 'private')
  if not r[1] and r[2] ~= '1' then return end -- gone (or never was): nobody to tell, no revision to keep
  local rev = redis.call('HINCRBY', 'room:' .. rid, 'rev', 1)
  if r[1] then
    redis.call('PUBLISH', 'ev:c:' .. r[1], '{"type":"room.participants","circle":' .. cjson.encode(r[1])
      .. ',"room":' .. cjson.encode(rid) .. ',"rev":' .. rev .. ',"participants":' .. participants(rid) .. '}')
  else
    local ev = '{"type":"room.participants","circle":null,"room":' .. cjson.encode(rid)
      .. ',"rev":' .. rev .. ',"participants":' .. participants(rid) .. '}'
    for _, g in ipairs(redis.call('SMEMBERS', 'room:' .. rid .. ':guests')) do redis.call('PUBLISH', 'ev:u:' .. g, ev) end
  end
end
local function make_room(cid, rid, name, uid, standing, now)
  redis.call('HSET', 'room:' .. rid, 'circle', cid, 'name', name, 'created_by', uid, 'created', now, 'standing', standing)
  redis.call('ZADD', 'circle:' .. cid .. ':rooms', now, rid)
end
-- a private room: its guests only, and only while it is open
local function private_for(rid, uid, now)
  local r = redis.call('HMGET', 'room:' .. rid, 'opens', 'closes')
  if redis.call('SISMEMBER', 'room:' .. rid .. ':guests', uid) == 0 then
    return nil, redis.error_reply('forbidden: this room is private to the people of its session')
  end
  if now < tonumber(r[1]) * 1000 then return nil, redis.error_reply('conflict: this room is not open yet') end
  if now >= tonumber(r[2]) * 1000 then return nil, redis.error_reply('conflict: this room is closed') end
  return ''
end
-- a room the user may enter: its circle ('' for a private room), or nil and an error reply
local function room_for(rid, uid)
  local r = redis.call('HMGET', 'room:' .. rid, 'circle', 'private')
  if r[2] == '1' then return private_for(rid, uid, now_ms()) end
  local cid = r[1]
  if not cid then return nil, redis.error_reply('not_found: no such room') end
  if not is_member(cid, uid) then return nil, redis.error_reply('forbidden: only members of the circle enter its rooms') end
  return cid
end

-- args: circle, user, a fresh room id (used if the circle has no room yet).
lib.register('room_list', {}, function(keys, args)
  local cid, uid = args[1], args[2]
  if redis.call('EXISTS', 'circle:' .. cid) == 0 then return redis.error_reply('not_found: no such circle') end
  if not is_member(cid, uid) and not is_admin(uid) then return redis.error_reply('forbidden: members only') end
  local now = now_ms()
  if redis.call('ZCARD', 'circle:' .. cid .. ':rooms') == 0 then make_room(cid, args[3], 'Drop-in room', uid, '1', now) end
  local out = {}
  for _, rid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':rooms', 0, -1)) do
    if expire(rid, now) > 0 then announce(rid) end
    out[#out + 1] = room_json(rid)
  end
  return '{"rooms":[' .. table.concat(out, ',') .. ']}'
end)

-- args: circle, user, new room id, name, max rooms.
lib.register('room_create', {}, function(keys, args)
  local cid, uid, rid, name = args[1], args[2], args[3], args[4]
  if redis.call('EXISTS', 'circle:' .. cid) == 0 then return redis.error_reply('not_found: no such circle') end
  local role = redis.call('HGET', 'circle:' .. cid .. ':members', uid)
  if role ~= 'moderator' and not is_admin(uid) then return redis.error_reply('forbidden: only moderators add rooms') end
  if redis.call('ZCARD', 'circle:' .. cid .. ':rooms') >= tonumber(args[5]) then
    return redis.error_reply('conflict: the circle has as many rooms as allowed')
  end
  local now = now_ms()
  if redis.call('ZCARD', 'circle:' .. cid .. ':rooms') == 0 then make_room(cid, rid .. 's', 'Drop-in room', uid, '1', now) end
  make_room(cid, rid, name, uid, '0', now)
  local room = room_json(rid)
  redis.call('PUBLISH', 'ev:c:' .. cid, '{"type":"room.created","circle":' .. cjson.encode(cid) .. ',"room":' .. room .. '}')
  return '{"room":' .. room .. '}'
end)

-- args: room, user, device, camera (0|1), mic (0|1), cap, ttl ms, media ('sfu' or 'mesh': told to the client).
lib.register('room_join', {}, function(keys, args)
  local rid, uid, dev = args[1], args[2], args[3]
  local cid, err = room_for(rid, uid)
  if not cid then return err end
  local now = now_ms()
  expire(rid, now)
  local key = 'room:' .. rid .. ':members'
  if not redis.call('ZSCORE', key, dev) and redis.call('ZCARD', key) >= tonumber(args[6]) then
    announce(rid)
    return redis.error_reply('room_full: the room is full (' .. args[6] .. ' participants)')
  end
  local n = redis.call('HMGET', 'user:' .. uid, 'name', 'display_name')
  redis.call('ZADD', key, now + tonumber(args[7]), dev)
  redis.call('HSET', 'room:' .. rid .. ':p', dev, cjson.encode({user = {id = uid, name = n[1] or '', display_name = n[2] or n[1] or ''},
    device = dev, camera = args[4] == '1', mic = args[5] == '1'}))
  redis.call('SADD', 'rooms:live', rid)
  announce(rid)
  return '{"room":' .. room_json(rid) .. ',"device":' .. cjson.encode(dev) .. ',"media":' .. cjson.encode(args[8] or 'mesh') .. '}'
end)

-- args: room, user, device, camera, mic.
lib.register('room_update', {}, function(keys, args)
  local rid, uid, dev = args[1], args[2], args[3]
  local cid, err = room_for(rid, uid)
  if not cid then return err end
  local raw = redis.call('HGET', 'room:' .. rid .. ':p', dev)
  if not raw then return redis.error_reply('not_found: you are not in this room') end
  local p = cjson.decode(raw)
  p.camera, p.mic = args[4] == '1', args[5] == '1'
  redis.call('HSET', 'room:' .. rid .. ':p', dev, cjson.encode(p))
  announce(rid)
  return ''
end)

-- args: room, device, quiet (1: no error if absent).
lib.register('room_leave', {}, function(keys, args)
  local rid, dev = args[1], args[2]
  if redis.call('ZREM', 'room:' .. rid .. ':members', dev) == 0 then
    if args[3] == '1' then return '' end
    if redis.call('EXISTS', 'room:' .. rid) == 0 then return redis.error_reply('not_found: no such room') end
    return redis.error_reply('not_found: you are not in this room')
  end
  redis.call('HDEL', 'room:' .. rid .. ':p', dev)
  announce(rid)
  return ''
end)

-- args: room, user, device, target device, event text (JSON object; the target device is appended).
lib.register('room_signal', {}, function(keys, args)
  local rid, uid, dev, to = args[1], args[2], args[3], args[4]
  local cid, err = room_for(rid, uid)
  if not cid then return err end
  if not redis.call('HGET', 'room:' .. rid .. ':p', dev) then return redis.error_reply('forbidden: join the room first') end
  local raw = redis.call('HGET', 'room:' .. rid .. ':p', to)
  if not raw then return redis.error_reply('not_found: no such participant in this room') end
  local target = cjson.decode(raw).user.id
  redis.call('PUBLISH', 'ev:u:' .. target, with_route(args[5], 'to_device', to))
  return ''
end)

-- args: ttl ms, then (room, device) pairs of this node's connections.
lib.register('room_refresh', {}, function(keys, args)
  local exp = now_ms() + tonumber(args[1])
  for i = 2, #args - 1, 2 do redis.call('ZADD', 'room:' .. args[i] .. ':members', 'XX', exp, args[i + 1]) end
  return (#args - 1) / 2
end)

-- args: rooms per sweep → participants removed.
lib.register('room_sweep', {}, function(keys, args)
  local now = now_ms()
  local total = 0
  for _, rid in ipairs(redis.call('SRANDMEMBER', 'rooms:live', tonumber(args[1]))) do
    local closes = redis.call('HGET', 'room:' .. rid, 'closes')
    if closes and now >= tonumber(closes) * 1000 and redis.call('EXISTS', 'room:' .. rid .. ':members') == 1 then
      private_room_close(rid)
    end
    local n = expire(rid, now)
    if n > 0 then announce(rid) total = total + n end
    if redis.call('ZCARD', 'room:' .. rid .. ':members') == 0 then redis.call('SREM', 'rooms:live', rid) end
  end
  return total
end)

-- Placement of a room on a media server (ARCHITECTURE.md, "Group media"). Atomic so that two nodes placing
-- the same room at once agree: the room keeps its SFU while that SFU's sfu:alive: key exists and it is in
-- sfu:load (a draining SFU takes itself out of sfu:load first: its rooms move); otherwise
-- the least loaded live SFU of sfu:load that has room for one more is chosen and written, and its load is
-- raised by one at once (its next heartbeat overwrites it) so that rooms opened within the same second
-- spread out. SFUs in sfu:load whose alive key has expired are dead: they are taken out of the set.
-- keys: room:<rid>:sfu, sfu:load. args: room placement lifetime (ms). Returns the SFU id, or unavailable.
lib.register('room_place_sfu', {}, function(keys, args)
  local cur = redis.call('GET', keys[1])
  if cur and redis.call('EXISTS', 'sfu:alive:' .. cur) == 1 and redis.call('ZSCORE', keys[2], cur) then
    redis.call('PEXPIRE', keys[1], tonumber(args[1]))
    return cur
  end
  for _, sfu in ipairs(redis.call('ZRANGE', keys[2], 0, -1)) do
    local alive = redis.call('GET', 'sfu:alive:' .. sfu)
    if not alive then
      redis.call('ZREM', keys[2], sfu)
    else
      local ok, st = pcall(cjson.decode, alive)
      local full = ok and type(st) == 'table' and tonumber(st.capacity) and tonumber(st.participants)
        and tonumber(st.participants) >= tonumber(st.capacity)
      if not full then
        redis.call('SET', keys[1], sfu, 'PX', tonumber(args[1]))
        redis.call('ZADD', keys[2], 'XX', 'INCR', 1, sfu)
        return sfu
      end
    end
  end
  redis.call('DEL', keys[1])
  return redis.error_reply('unavailable: no media server is available for this room')
end)
