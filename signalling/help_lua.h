/* help_lua.h — Lua building blocks for help requests shared by the scripts of help.c, circles.c (the
 * `experts_on_duty` count, the members' `on_duty` flag) and channels.c (the `help` object of a help
 * channel message).
 *
 * Owns: the Lua text that reads the help keys (help.h lists them): who is on duty, and the short status
 * view of a request. Each piece comes after CIRCLE_LUA_PRELUDE (it uses role_of and brief).
 * Must not: write anything, or know about C.
 *
 * On duty: help:duty:<cid> maps uid → the device that went on duty; the user is on duty while that
 * device is live in presence:devices (presence.h) and the user is still an expert or mentor of the
 * circle. So duty ends with the device's presence (sign-out, a closed tab, a vanished node), with no
 * timer of its own.
 */
#ifndef STAFFROOM_HELP_LUA_H
#define STAFFROOM_HELP_LUA_H

#define HELP_LUA                                                                                     \
    "local function help_on_duty(cid, uid, now)\n"                                                  \
    "  local dev = redis.call('HGET', 'help:duty:' .. cid, uid)\n"                                   \
    "  if not dev then return false end\n"                                                          \
    "  local r = role_of(cid, uid)\n"                                                               \
    "  if r ~= 'expert' and r ~= 'mentor' then return false end\n"                                  \
    "  local e = redis.call('ZSCORE', 'presence:devices', uid .. '/' .. dev)\n"                      \
    "  return (e and tonumber(e) > now) and true or false\n"                                        \
    "end\n"                                                                                         \
    "local function help_duty_count(cid, now)\n"                                                    \
    "  local n = 0\n"                                                                               \
    "  for _, uid in ipairs(redis.call('HKEYS', 'help:duty:' .. cid)) do\n"                          \
    "    if help_on_duty(cid, uid, now) then n = n + 1 end\n"                                        \
    "  end\n"                                                                                       \
    "  return n\n"                                                                                  \
    "end\n"                                                                                         \
    /* a taken request whose call is over has been answered (derived when read: no event of its own) */ \
    "local function help_status(status, call)\n"                                                    \
    "  if status == 'taken' and call and redis.call('EXISTS', 'call:' .. call) == 0 then\n"          \
    "    return 'answered'\n"                                                                       \
    "  end\n"                                                                                      \
    "  return status\n"                                                                            \
    "end\n"                                                                                        \
    /* the `help` object of a help channel message: the request's current status */                 \
    "local function help_brief(rid)\n"                                                              \
    "  local f = redis.call('HMGET', 'help:' .. rid, 'status', 'topic', 'taken_by', 'call')\n"       \
    "  local by = cjson.null\n"                                                                     \
    "  if f[3] then by = brief(f[3]) end\n"                                                          \
    "  return {request = rid, status = help_status(f[1] or 'cancelled', f[4]), topic = f[2] or '',\n" \
    "    taken_by = by}\n"                                                                          \
    "end\n"

#endif
