/* schedule_lua.h — Lua shared by the store scripts of schedule.c and mentoring.c.
 *
 * Owns: the Lua text that reads a booking (booking:<bid> hash) as its protocol object, tells whether a
 * user is a mentor (role `mentor` in one of her circles) and whether a mentee may book her (they share
 * such a circle), and the pair key of two users' mentoring notes.
 * Must not: write anything (helpers that write say so). Builds on CIRCLE_LUA_PRELUDE (fail, now_ms,
 * jarr, hash, brief, is_online).
 */
#ifndef STAFFROOM_SCHEDULE_LUA_H
#define STAFFROOM_SCHEDULE_LUA_H

#include "circle_lua.h"

#define SCHEDULE_LUA_PRELUDE                                                                          \
    CIRCLE_LUA_PRELUDE                                                                                \
    "local function booking_obj(bid)\n"                                                               \
    "  local b = hash('booking:' .. bid)\n"                                                            \
    "  if not b.mentor then return nil end\n"                                                         \
    "  return {id = bid, mentor = brief(b.mentor), mentee = brief(b.mentee), start = tonumber(b.start),\n" \
    "    ['end'] = tonumber(b['end']), topic = b.topic or '', status = b.status,\n"                   \
    "    sequence = tonumber(b.sequence), created = tonumber(b.created), updated = tonumber(b.updated)}\n" \
    "end\n"                                                                                          \
    /* the circles where uid is a mentor */                                                         \
    "local function mentor_circles(uid)\n"                                                           \
    "  local flat, out = redis.call('HGETALL', 'user:' .. uid .. ':circles'), {}\n"                    \
    "  for i = 1, #flat, 2 do\n"                                                                     \
    "    if flat[i + 1] == 'member' and role_of(flat[i], uid) == 'mentor' then out[#out + 1] = flat[i] end\n" \
    "  end\n"                                                                                        \
    "  return out\n"                                                                                 \
    "end\n"                                                                                          \
    "local function may_book(mentee, mentor)\n"                                                      \
    "  for _, cid in ipairs(mentor_circles(mentor)) do\n"                                             \
    "    if role_of(cid, mentee) then return true end\n"                                              \
    "  end\n"                                                                                        \
    "  return false\n"                                                                               \
    "end\n"                                                                                          \
    "local function pair_key(a, b)\n"                                                                \
    "  if a < b then return 'mentoring:' .. a .. ':' .. b end\n"                                       \
    "  return 'mentoring:' .. b .. ':' .. a\n"                                                         \
    "end\n"                                                                                          \
    "local function other_party(b, uid)\n"                                                           \
    "  if b.mentor == uid then return b.mentee end\n"                                                 \
    "  if b.mentee == uid then return b.mentor end\n"                                                 \
    "  return nil\n"                                                                                 \
    "end\n"

#endif
