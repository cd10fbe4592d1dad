-- presence.lua — devices' presence (presence.c). The Redis clock (TIME) is the only clock, so nodes never
-- disagree about expiry; announce() publishes only when the combined status differs from the last one announced.
-- Part of the staffroom library (lib.lua explains how it is put together).
-- Keys are built inside: a user's circles, duty and devices are found while running, and the refresh and
-- sweep name many users at once.

local now_ms = lib.now_ms

local RANK = {offline=0, away=1, online=2, busy=3, in_call=4}
-- the user's combined status over her live devices (the most engaged wins) and her latest device expiry
local function combined(uid, now)
  local h = redis.call('HGETALL', 'presence:user:' .. uid)
  local best, bestr, maxexp = 'offline', 0, 0
  for i = 1, #h, 2 do
    local exp = tonumber(redis.call('ZSCORE', 'presence:devices', uid .. '/' .. h[i]) or '0')
    if exp > now then
      local r = RANK[h[i + 1]] or 0
      if r > bestr then best, bestr = h[i + 1], r end
      if exp > maxexp then maxexp = exp end
    end
  end
  return best, maxexp
end
-- writes: records the user's combined status and publishes a presence event to her circles if it changed
local function announce(uid, now)
  local st, maxexp = combined(uid, now)
  if maxexp > 0 then redis.call('ZADD', 'presence:online', maxexp, uid) else redis.call('ZREM', 'presence:online', uid) end
  local last = redis.call('HGET', 'presence:status', uid) or 'offline'
  if st == last then return st end
  if st == 'offline' then redis.call('HDEL', 'presence:status', uid) else redis.call('HSET', 'presence:status', uid, st) end
  local circles = redis.call('HGETALL', 'user:' .. uid .. ':circles')
  for i = 1, #circles, 2 do
    if circles[i + 1] == 'member' then
      local ev = {type = 'presence', user = uid, status = st, circle = circles[i]}
      -- help requests: on duty as lib.help_on_duty defines it (the duty device live, role expert or mentor)
      local dd = redis.call('HGET', 'help:duty:' .. circles[i], uid)
      local role = redis.call('HGET', 'circle:' .. circles[i] .. ':members', uid)
      ev.on_duty = (dd and (role == 'expert' or role == 'mentor') and
        tonumber(redis.call('ZSCORE', 'presence:devices', uid .. '/' .. dd) or '0') > now) and true or false
      redis.call('PUBLISH', 'ev:c:' .. circles[i], cjson.encode(ev))
    end
  end
  return st
end

-- args: uid, device, status, ttl_ms → the combined status.
lib.register('presence_set', {}, function(keys, args)
  local now = now_ms()
  redis.call('ZADD', 'presence:devices', now + tonumber(args[4]), args[1] .. '/' .. args[2])
  redis.call('HSET', 'presence:user:' .. args[1], args[2], args[3])
  return announce(args[1], now)
end)

-- args: uid, device → the combined status.
lib.register('presence_gone', {}, function(keys, args)
  local now = now_ms()
  redis.call('ZREM', 'presence:devices', args[1] .. '/' .. args[2])
  redis.call('HDEL', 'presence:user:' .. args[1], args[2])
  return announce(args[1], now)
end)

-- args: ttl_ms, then (uid, device, status) triples → number of devices refreshed. Upserts, so a device
-- that Redis lost or swept during an outage comes back.
lib.register('presence_refresh', {}, function(keys, args)
  local now = now_ms()
  local exp = now + tonumber(args[1])
  local users = {}
  for i = 2, #args - 2, 3 do
    redis.call('ZADD', 'presence:devices', exp, args[i] .. '/' .. args[i + 1])
    redis.call('HSET', 'presence:user:' .. args[i], args[i + 1], args[i + 2])
    users[args[i]] = true
  end
  for uid in pairs(users) do announce(uid, now) end
  return (#args - 1) / 3
end)

-- args: limit → number of expired devices removed.
lib.register('presence_sweep', {}, function(keys, args)
  local now = now_ms()
  local gone = redis.call('ZRANGEBYSCORE', 'presence:devices', '-inf', now, 'LIMIT', 0, tonumber(args[1]))
  local users = {}
  for _, m in ipairs(gone) do
    local slash = string.find(m, '/', 1, true)
    if slash then
      local uid = string.sub(m, 1, slash - 1)
      redis.call('HDEL', 'presence:user:' .. uid, string.sub(m, slash + 1))
      users[uid] = true
    end
    redis.call('ZREM', 'presence:devices', m)
  end
  for uid in pairs(users) do announce(uid, now) end
  return #gone
end)

lib.register('presence_circle_counts', {'no-writes'}, function(keys, args)
  local now = now_ms()
  local out = {}
  for _, cid in ipairs(args) do
    local m = redis.call('HGETALL', 'circle:' .. cid .. ':members')
    local on, ex = 0, 0
    for i = 1, #m, 2 do
      local s = tonumber(redis.call('ZSCORE', 'presence:online', m[i]) or '0')
      if s > now then
        on = on + 1
        if m[i + 1] == 'expert' or m[i + 1] == 'mentor' then ex = ex + 1 end
      end
    end
    out[#out + 1] = on
    out[#out + 1] = ex
  end
  return out
end)

lib.register('presence_users_status', {'no-writes'}, function(keys, args)
  local now = now_ms()
  local out = {}
  for i, uid in ipairs(args) do out[i] = (combined(uid, now)) end
  return out
end)
