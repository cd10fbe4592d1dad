-- record.lua — in-call recording with consent (record.c): who was asked, who agreed, and the one state of a
-- room's recording, changed atomically with the events that announce it.
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside from the room id (a room leads to its participants, found while running):
--   room:<rid>:rec        hash  id (media id), state (asking|starting|recording|stopping), by (uid), started
--   room:<rid>:rec:yes    set   devices that agreed        room:<rid>:rec:no     set  devices that declined
--   room:<rid>:rec:asked  set   devices that were asked     room:<rid>:rec:users  set  users who agreed (owners)
-- Events go to every participant's user (ev:u): room.record.asked (to_device: the one asked) and
-- room.record.state {room, state: asking|recording|off, recording (its id), by, pending: [devices not yet agreed],
-- reason}. ("id" is the request's own member in answers: the recording's id is "recording".)

local brief, now_ms, with_route = lib.brief, lib.now_ms, lib.with_route

local ASK_TTL_MS = 120000 -- an ask nobody finishes lapses: the room can ask again

local function rk(rid, part) return 'room:' .. rid .. ':rec' .. (part or '') end
local function devices(rid) return redis.call('HKEYS', 'room:' .. rid .. ':p') end
local function user_of(rid, dev)
  local raw = redis.call('HGET', 'room:' .. rid .. ':p', dev)
  return raw and cjson.decode(raw).user.id or nil
end
local function users(rid)
  local seen, out = {}, {}
  for _, raw in ipairs(redis.call('HVALS', 'room:' .. rid .. ':p')) do
    local uid = cjson.decode(raw).user.id
    if not seen[uid] then seen[uid] = true out[#out + 1] = uid end
  end
  return out
end
local function pending(rid)
  local out = {}
  for _, d in ipairs(devices(rid)) do
    if redis.call('SISMEMBER', rk(rid, ':yes'), d) == 0 and redis.call('SISMEMBER', rk(rid, ':no'), d) == 0 then
      out[#out + 1] = d
    end
  end
  return out
end
local function jlist(t) return #t == 0 and '[]' or cjson.encode(t) end
local function to_users(uids, text) for _, u in ipairs(uids) do redis.call('PUBLISH', 'ev:u:' .. u, text) end end

-- room.record.state to everyone present (and to extra users, e.g. one who just left)
local function announce(rid, state, reason, extra)
  local h = redis.call('HMGET', rk(rid), 'id', 'by')
  local ev = '{"type":"room.record.state","room":' .. cjson.encode(rid) .. ',"state":' .. cjson.encode(state)
    .. ',"recording":' .. cjson.encode(h[1] or '') .. ',"by":' .. (h[2] and cjson.encode(brief(h[2])) or 'null')
    .. ',"pending":' .. jlist(state == 'off' and {} or pending(rid))
    .. (reason and (',"reason":' .. cjson.encode(reason)) or '') .. '}'
  local us = users(rid)
  if extra then us[#us + 1] = extra end
  to_users(us, ev)
end

-- asks every present device that was not asked yet (the requester counts as agreed)
local function ask_new(rid)
  local h = redis.call('HMGET', rk(rid), 'id', 'by')
  for _, d in ipairs(pending(rid)) do
    if redis.call('SADD', rk(rid, ':asked'), d) == 1 then
      local uid = user_of(rid, d)
      local ev = '{"type":"room.record.asked","room":' .. cjson.encode(rid) .. ',"recording":' .. cjson.encode(h[1])
        .. ',"by":' .. cjson.encode(brief(h[2])) .. '}'
      redis.call('PUBLISH', 'ev:u:' .. uid, with_route(ev, 'to_device', d))
    end
  end
end

-- everyone present agreed: the recording starts (the caller tells the SFU). Returns the start reply.
local function start(rid)
  redis.call('HSET', rk(rid), 'state', 'starting')
  redis.call('PERSIST', rk(rid))
  return cjson.encode({start = true, room = rid, state = 'asking', recording = redis.call('HGET', rk(rid), 'id'),
    sfu = redis.call('GET', 'room:' .. rid .. ':sfu') or '', pids = redis.call('SMEMBERS', rk(rid, ':yes'))})
end

local function clear(rid)
  redis.call('DEL', rk(rid), rk(rid, ':yes'), rk(rid, ':no'), rk(rid, ':asked'), rk(rid, ':users'))
end

local function in_room(rid, dev)
  if not redis.call('HGET', 'room:' .. rid .. ':p', dev) then return false end
  return true
end

-- args: room, user, device, new id. → {id, state} or the start reply (alone in the room).
lib.register('record_request', {}, function(keys, args)
  local rid, uid, dev, id = args[1], args[2], args[3], args[4]
  if not in_room(rid, dev) then return redis.error_reply('not_found: you are not in this room') end
  local state = redis.call('HGET', rk(rid), 'state')
  if state then return redis.error_reply('conflict: this room is already ' .. state) end
  clear(rid) -- what a lapsed ask left behind must not count for this one
  redis.call('HSET', rk(rid), 'id', id, 'state', 'asking', 'by', uid, 'started', now_ms())
  redis.call('PEXPIRE', rk(rid), ASK_TTL_MS)
  redis.call('SADD', rk(rid, ':yes'), dev)
  redis.call('SADD', rk(rid, ':asked'), dev)
  redis.call('SADD', rk(rid, ':users'), uid)
  if #pending(rid) == 0 then return start(rid) end
  ask_new(rid)
  announce(rid, 'asking')
  return cjson.encode({recording = id, state = 'asking'})
end)

-- args: room, user, device, agree (1|0). → {} , {allow, id, sfu} (agreed while recording) or the start reply.
lib.register('record_consent', {}, function(keys, args)
  local rid, uid, dev, agree = args[1], args[2], args[3], args[4] == '1'
  if not in_room(rid, dev) then return redis.error_reply('not_found: you are not in this room') end
  local h = redis.call('HMGET', rk(rid), 'state', 'id')
  local state = h[1]
  if not state then return redis.error_reply('not_found: nobody asked to record this room') end
  if redis.call('SISMEMBER', rk(rid, ':yes'), dev) == 1 then return redis.error_reply('conflict: you already agreed') end
  if not agree then
    if state == 'asking' then
      announce(rid, 'off', 'declined')
      clear(rid)
      return '{}'
    end
    redis.call('SADD', rk(rid, ':no'), dev) -- recording goes on without this device: it does not publish
    announce(rid, state == 'starting' and 'asking' or 'recording')
    return '{}'
  end
  redis.call('SREM', rk(rid, ':no'), dev)
  redis.call('SADD', rk(rid, ':yes'), dev)
  redis.call('SADD', rk(rid, ':users'), uid)
  if state == 'asking' then
    if #pending(rid) == 0 then return start(rid) end
    announce(rid, 'asking')
    return '{}'
  end
  announce(rid, state == 'recording' and 'recording' or 'asking')
  return cjson.encode({allow = true, room = rid, recording = h[2], sfu = redis.call('GET', 'room:' .. rid .. ':sfu') or ''})
end)

-- The participants changed (any node that has one of them calls this): newcomers are asked; an ask whose
-- missing answers left the room starts. args: room. → {} or the start reply.
lib.register('record_newcomers', {}, function(keys, args)
  local rid = args[1]
  local state = redis.call('HGET', rk(rid), 'state')
  if not state then return '{}' end
  if #devices(rid) == 0 then return '{}' end -- the SFU stops an emptied room's recording itself
  if state == 'asking' and #pending(rid) == 0 then return start(rid) end
  ask_new(rid)
  return '{}'
end)

-- The SFU said ok (args: room, id): announce it. Or it failed (args: room, id, reason): the recording is off.
lib.register('record_started', {}, function(keys, args)
  local rid, id = args[1], args[2]
  if redis.call('HGET', rk(rid), 'id') ~= id then return '{}' end
  if args[3] then
    announce(rid, 'off', args[3])
    clear(rid)
    return '{}'
  end
  redis.call('HSET', rk(rid), 'state', 'recording')
  announce(rid, 'recording')
  return '{}'
end)

-- args: room, user, device. → {} (an ask cancelled) or {stop, id, sfu}.
lib.register('record_stop', {}, function(keys, args)
  local rid, uid, dev = args[1], args[2], args[3]
  if not in_room(rid, dev) then return redis.error_reply('not_found: you are not in this room') end
  local h = redis.call('HMGET', rk(rid), 'state', 'id')
  if not h[1] or h[1] == 'stopping' then return redis.error_reply('not_found: this room is not being recorded') end
  if h[1] == 'asking' then
    announce(rid, 'off', 'cancelled')
    clear(rid)
    return '{}'
  end
  redis.call('HSET', rk(rid), 'state', 'stopping', 'stopped_by', uid)
  announce(rid, 'off', 'stopped')
  return cjson.encode({stop = true, room = rid, recording = h[2], sfu = redis.call('GET', 'room:' .. rid .. ':sfu') or ''})
end)

-- The SFU closed the files (args: room, id, reason): the state goes, the owners are returned (requester first).
lib.register('record_finished', {}, function(keys, args)
  local rid, id = args[1], args[2]
  local h = redis.call('HMGET', rk(rid), 'id', 'by', 'state')
  if h[1] ~= id then return '{"owners":[]}' end
  local owners = {h[2]}
  for _, u in ipairs(redis.call('SMEMBERS', rk(rid, ':users'))) do if u ~= h[2] then owners[#owners + 1] = u end end
  if h[3] ~= 'stopping' then announce(rid, 'off', args[3]) end
  clear(rid)
  local r = redis.call('HMGET', 'room:' .. rid, 'circle', 'private')
  return cjson.encode({owners = owners, circle = r[1] or '', session = r[2] == '1' and rid or ''})
end)

-- args: room, device. → {state (off|asking|recording), id, agreed}
lib.register('record_status', {'no-writes'}, function(keys, args)
  local rid, dev = args[1], args[2]
  if not in_room(rid, dev) then return redis.error_reply('not_found: you are not in this room') end
  local h = redis.call('HMGET', rk(rid), 'state', 'id')
  local state = h[1] or 'off'
  if state == 'starting' then state = 'asking' elseif state == 'stopping' then state = 'off' end
  local agreed = redis.call('SISMEMBER', rk(rid, ':yes'), dev) == 1
  return '{"state":' .. cjson.encode(state) .. ',"recording":' .. cjson.encode(h[2] or '') .. ',"agreed":'
    .. tostring(agreed) .. ',"pending":' .. jlist(h[1] and pending(rid) or {}) .. '}'
end)
