-- ratelimit.lua — limits that hold across every node of a community (dispatch.c): sign-in attempts.
-- Part of the staffroom library (lib.lua explains how it is put together).
--
-- A token bucket per key rl:<class>:<what> (a hash: t = tokens, at = unix ms of the last update), refilled
-- at per_minute up to burst, deleted by Redis once it would be full again (PEXPIRE): an absent key is a full
-- bucket, so expiry loses nothing and nothing is kept for addresses that stopped trying. Keys are never
-- evicted for room (run Redis with a noeviction or volatile-* maxmemory policy), so rotating through
-- addresses resets nobody's limit.

local now_ms = lib.now_ms

-- keys: one or more buckets (all must have a token: e.g. the address and the account name).
-- args: per_minute, burst → 0 (a token was taken from each), or the ms until each has one (nothing taken).
lib.register('ratelimit_take', {}, function(keys, args)
  local per_ms, burst, now = tonumber(args[1]) / 60000, tonumber(args[2]), now_ms()
  local tokens, wait = {}, 0
  for i, k in ipairs(keys) do
    local h = redis.call('HMGET', k, 't', 'at')
    local t, at = tonumber(h[1]) or burst, tonumber(h[2]) or now
    if now > at then t = t + (now - at) * per_ms end
    t = math.min(burst, t) -- also when another node, configured with a larger burst, wrote it
    tokens[i] = t
    if t < 1 then wait = math.max(wait, math.floor((1 - t) / per_ms) + 1) end
  end
  if wait > 0 then return wait end
  for i, k in ipairs(keys) do
    local t = tokens[i] - 1
    redis.call('HSET', k, 't', tostring(t), 'at', now)
    redis.call('PEXPIRE', k, math.ceil((burst - t) / per_ms) + 1000)
  end
  return 0
end)
