/* circle_lua.h — Lua building blocks shared by the store scripts of circles.c and channels.c.
 *
 * Owns: the Lua text that reads circle membership, roles, admin flags, user names and live presence from
 * Redis, and the helpers that encode answers and publish membership events. Each feature script is
 * CIRCLE_LUA_PRELUDE followed by its own body, so every script stays one atomic step (Redis runs a
 * script without interleaving other commands) and the rules live in one place.
 * Must not: write anything by itself (helpers that write say so), or know about C.
 *
 * Conventions inside scripts:
 *  - fail(code, text) makes the error reply "code: text" that req_store_error maps to a protocol code.
 *  - Answers are JSON object text; jarr() joins already-encoded items into an array, because cjson encodes
 *    an empty Lua table as {} and the protocol promises [] for lists.
 *  - Keys are built inside the scripts (not passed as KEYS): Staffroom runs on one Redis, not a cluster.
 *  - Presence keys are the presence module's (ARCHITECTURE.md): presence:online (uid → latest device
 *    expiry, unix ms), presence:user:<uid> (device → status), presence:devices (<uid>/<device> → expiry).
 */
#ifndef STAFFROOM_CIRCLE_LUA_H
#define STAFFROOM_CIRCLE_LUA_H

#define CIRCLE_LUA_PRELUDE                                                                             \
    "local function fail(code, text) return redis.error_reply(code .. ': ' .. text) end\n"              \
    "local function now_ms()\n"                                                                      \
    "  local t = redis.call('TIME')\n"                                                                \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                            \
    "end\n"                                                                                          \
    "local function jarr(items) return '[' .. table.concat(items, ',') .. ']' end\n"                   \
    "local function hash(key)\n"                                                                     \
    "  local flat, h = redis.call('HGETALL', key), {}\n"                                              \
    "  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end\n"                                         \
    "  return h\n"                                                                                   \
    "end\n"                                                                                          \
    "local function is_admin(uid) return redis.call('HGET', 'user:' .. uid, 'admin') == '1' end\n"     \
    "local function role_of(cid, uid)\n"                                                             \
    "  return redis.call('HGET', 'circle:' .. cid .. ':members', uid)\n"                              \
    "end\n"                                                                                          \
    "local function circle_exists(cid) return redis.call('EXISTS', 'circle:' .. cid) == 1 end\n"       \
    "local function can_moderate(cid, uid)\n"                                                        \
    "  return role_of(cid, uid) == 'moderator' or is_admin(uid)\n"                                    \
    "end\n"                                                                                          \
    /* users named in one answer are read once per script */                                         \
    "local user_cache = {}\n"                                                                         \
    "local function brief(uid)\n"                                                                    \
    "  local u = user_cache[uid]\n"                                                                  \
    "  if not u then\n"                                                                              \
    "    local f = redis.call('HMGET', 'user:' .. uid, 'name', 'display_name')\n"                     \
    "    u = {id = uid, name = f[1] or '', display_name = f[2] or f[1] or ''}\n"                        \
    "    user_cache[uid] = u\n"                                                                      \
    "  end\n"                                                                                        \
    "  return u\n"                                                                                   \
    "end\n"                                                                                          \
    "local function is_online(uid, now)\n"                                                           \
    "  local e = redis.call('ZSCORE', 'presence:online', uid)\n"                                      \
    "  return e and tonumber(e) > now\n"                                                              \
    "end\n"                                                                                          \
    /* combined status over the user's live devices: the most engaged one wins */                    \
    "local status_rank = {away = 1, online = 2, busy = 3, in_call = 4}\n"                             \
    "local function presence_of(uid, now)\n"                                                         \
    "  if not is_online(uid, now) then return 'offline' end\n"                                        \
    "  local devs, best = redis.call('HGETALL', 'presence:user:' .. uid), nil\n"                       \
    "  for i = 1, #devs, 2 do\n"                                                                     \
    "    local e = redis.call('ZSCORE', 'presence:devices', uid .. '/' .. devs[i])\n"                 \
    "    local s = devs[i + 1]\n"                                                                    \
    "    if e and tonumber(e) > now and status_rank[s] and\n"                                         \
    "       (not best or status_rank[s] > status_rank[best]) then best = s end\n"                      \
    "  end\n"                                                                                        \
    "  return best or 'online'\n"                                                                    \
    "end\n"                                                                                          \
    /* writes: tells the user's devices (and every node's bus) about a membership change */           \
    "local function publish_membership(cid, uid, status, role)\n"                                    \
    "  redis.call('PUBLISH', 'ev:u:' .. uid, cjson.encode({type = 'circle.membership', circle = cid,\n" \
    "    user = uid, status = status, role = role or cjson.null}))\n"                                 \
    "end\n"                                                                                          \
    "local function publish_circle(cid, ev) redis.call('PUBLISH', 'ev:c:' .. cid, cjson.encode(ev)) end\n"

#endif
