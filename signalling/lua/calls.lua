-- calls.lua — 1:1 calls (calls.c): one function per state change, each publishing its own events.
-- Keys: call:<id> (hash), user:<uid>:call (the busy marker), calls:deadlines (ARCHITECTURE.md).
-- Part of the staffroom library (lib.lua explains how it is put together).
-- The request's call (call:<id>) and busy markers are KEYS; the parties' markers found through a call
-- record, the calls a sweep or refresh names, and calls:deadlines are built inside.

local now_ms, record, pub, with_route = lib.now_ms, lib.record, lib.pub, lib.with_route

local ACTIVE_TTL = lib.CALL_ACTIVE_TTL
local PARTY_MS = lib.CALL_PARTY_TTL * 1000

-- the call id, stored at key (call:<id> unless given), as a table (nil if gone)
local function load(id, key)
  key = key or 'call:' .. id
  local c = record(key)
  if c then c.id, c.key = id, key end
  return c
end
-- writes: deletes the call and tells both sides
local function ended(c, reason, by)
  redis.call('DEL', c.key)
  redis.call('ZREM', 'calls:deadlines', c.id .. '|ring', c.id .. '|caller', c.id .. '|callee')
  for _, u in ipairs({c.caller, c.callee}) do
    if redis.call('GET', 'user:' .. u .. ':call') == c.id then redis.call('DEL', 'user:' .. u .. ':call') end
  end
  local ev = {type = 'call.ended', call = c.id, reason = reason, by = by}
  pub(c.caller, 'to_device', c.caller_dev, ev)
  pub(c.callee, 'to_device', c.callee_dev, ev)
  return ''
end
-- writes: the callee uid answers ringing call c on device dev; the answer's fields, or an error reply
local function accept(c, uid, dev)
  if c.callee ~= uid then return redis.error_reply('forbidden: only the person called can accept') end
  if c.state ~= 'ringing' then return redis.error_reply('conflict: the call was already answered') end
  redis.call('HSET', c.key, 'state', 'active', 'callee_dev', dev)
  redis.call('EXPIRE', c.key, ACTIVE_TTL)
  redis.call('EXPIRE', 'user:' .. c.caller .. ':call', ACTIVE_TTL)
  redis.call('EXPIRE', 'user:' .. c.callee .. ':call', ACTIVE_TTL)
  local due = now_ms() + PARTY_MS
  redis.call('ZREM', 'calls:deadlines', c.id .. '|ring')
  redis.call('ZADD', 'calls:deadlines', due, c.id .. '|caller', due, c.id .. '|callee')
  pub(c.caller, 'to_device', c.caller_dev, {type = 'call.accepted', call = c.id, peer = uid, peer_device = dev, polite = false})
  pub(uid, 'to_device', dev, {type = 'call.accepted', call = c.id, peer = c.caller, peer_device = c.caller_dev, polite = true})
  pub(uid, 'not_device', dev, {type = 'call.answered_elsewhere', call = c.id})
  return {call = c.id, peer = c.caller, polite = true, state = 'active'}
end

-- keys: call:<id>, user:<caller>:call, user:<callee>:call, user:<callee>.
-- args: new call id, caller, caller device, callee, ring timeout (s).
lib.register('call_invite', {}, function(keys, args)
  local key, a_busy, b_busy, b_user = keys[1], keys[2], keys[3], keys[4]
  local id, a, adev, b, ring = args[1], args[2], args[3], args[4], tonumber(args[5])
  if a == b then return redis.error_reply('conflict: you cannot call yourself') end
  if redis.call('EXISTS', b_user) == 0 then return redis.error_reply('not_found: no such user') end
  local mine = redis.call('GET', a_busy)
  if mine then
    local c = load(mine) -- the caller's current call, found through her busy marker
    if not c then redis.call('DEL', a_busy)
    elseif c.state == 'ringing' and c.callee == a and c.caller == b then
      local r = accept(c, a, adev) -- glare: both called each other; this invite answers theirs
      if r.err then return r end
      r.glare = true
      return cjson.encode(r)
    else return redis.error_reply('conflict: you are already in a call') end
  end
  local theirs = redis.call('GET', b_busy)
  if theirs and redis.call('EXISTS', 'call:' .. theirs) == 1 then -- found through the callee's marker
    pub(a, 'to_device', adev, {type = 'call.ended', call = id, reason = 'busy'})
    return cjson.encode({call = id, state = 'ended', reason = 'busy'})
  end
  local n = redis.call('HMGET', 'user:' .. a, 'name', 'display_name')
  redis.call('HSET', key, 'caller', a, 'callee', b, 'caller_dev', adev, 'state', 'ringing')
  redis.call('EXPIRE', key, ring + 30)
  redis.call('SET', a_busy, id, 'EX', ring + 30)
  redis.call('SET', b_busy, id, 'EX', ring + 30)
  redis.call('ZADD', 'calls:deadlines', now_ms() + ring * 1000, id .. '|ring')
  pub(b, nil, nil, {type = 'call.incoming', call = id, from = {id = a, name = n[1] or '', display_name = n[2] or n[1] or ''}})
  return cjson.encode({call = id, state = 'ringing', peer = b})
end)

-- keys: call:<id>. args: call id, user, device.
lib.register('call_accept', {}, function(keys, args)
  local c = load(args[1], keys[1])
  if not c then return redis.error_reply('not_found: no such call (it may have ended)') end
  local r = accept(c, args[2], args[3])
  if r.err then return r end
  return cjson.encode(r)
end)

-- keys: call:<id>. args: call id, user, device, action (decline|cancel|hangup|disconnect), reason (hangup).
lib.register('call_end', {}, function(keys, args)
  local id, uid, dev, action, reason = args[1], args[2], args[3], args[4], args[5]
  local c = load(id, keys[1])
  if not c then
    if action == 'disconnect' then return '' end
    return redis.error_reply('not_found: no such call (it may have ended)')
  end
  if action == 'disconnect' then
    if dev ~= c.caller_dev and dev ~= c.callee_dev then return '' end
    return ended(c, 'disconnected', uid)
  end
  if uid ~= c.caller and uid ~= c.callee then return redis.error_reply('forbidden: you are not a party to this call') end
  local caller = uid == c.caller and dev == c.caller_dev
  local callee = uid == c.callee
  if action == 'decline' then
    if not callee then return redis.error_reply('forbidden: only the person called can decline') end
    if c.state ~= 'ringing' then return redis.error_reply('conflict: the call was already answered') end
    return ended(c, 'declined', uid)
  elseif action == 'cancel' then
    if not caller then return redis.error_reply('forbidden: only the caller can cancel') end
    if c.state ~= 'ringing' then return redis.error_reply('conflict: the call was answered; hang up instead') end
    return ended(c, 'cancelled', uid)
  end
  if c.state == 'ringing' then
    if caller then return ended(c, 'cancelled', uid) end
    if callee then return ended(c, 'declined', uid) end
  end
  if not caller and not (callee and dev == c.callee_dev) then
    return redis.error_reply('forbidden: hang up from the device that is in the call')
  end
  return ended(c, reason, uid)
end)

-- keys: call:<id>. args: call id, user, device, event text (a JSON object; the target device is appended).
lib.register('call_signal', {}, function(keys, args)
  local c = load(args[1], keys[1])
  if not c then return redis.error_reply('not_found: no such call (it may have ended)') end
  local uid, dev = args[2], args[3]
  local to, todev
  if uid == c.caller and dev == c.caller_dev then to, todev = c.callee, c.callee_dev
  elseif uid == c.callee and dev == c.callee_dev then to, todev = c.caller, c.caller_dev
  else return redis.error_reply('forbidden: you are not a party to this call') end
  if c.state ~= 'active' or not todev then return redis.error_reply('conflict: the call has not been accepted yet') end
  redis.call('PUBLISH', 'ev:u:' .. to, with_route(args[4], 'to_device', todev))
  return ''
end)

-- args: (call id, device) pairs of this node's connections in active calls → keeps those calls' keys
-- alive and pushes back that party's deadline.
lib.register('call_refresh', {}, function(keys, args)
  local n, due = 0, now_ms() + PARTY_MS
  for i = 1, #args - 1, 2 do
    local c = load(args[i])
    local side = c and ((args[i + 1] == c.caller_dev and 'caller') or (args[i + 1] == c.callee_dev and 'callee'))
    if side and c.state == 'active' then
      redis.call('EXPIRE', c.key, ACTIVE_TTL)
      redis.call('EXPIRE', 'user:' .. c.caller .. ':call', ACTIVE_TTL)
      redis.call('EXPIRE', 'user:' .. c.callee .. ':call', ACTIVE_TTL)
      redis.call('ZADD', 'calls:deadlines', 'XX', due, c.id .. '|' .. side)
      n = n + 1
    end
  end
  return n
end)

-- args: how many due deadlines to claim. Claiming (ZRANGEBYSCORE + ZREM in one script) makes each
-- deadline handled by exactly one node: a ring deadline ends a call still ringing (timeout); a party's
-- deadline ends an active call whose party's node stopped refreshing it (disconnected, by that party).
lib.register('call_sweep', {}, function(keys, args)
  local n = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', 'calls:deadlines', '-inf', now_ms(), 'LIMIT', 0, tonumber(args[1]))) do
    redis.call('ZREM', 'calls:deadlines', m)
    local id, side = string.match(m, '^(%x+)|(%a+)$')
    local c = id and load(id)
    if c and side == 'ring' and c.state == 'ringing' then ended(c, 'timeout') n = n + 1
    elseif c and side ~= 'ring' and c.state == 'active' then ended(c, 'disconnected', c[side]) n = n + 1 end
  end
  return n
end)
