/* rooms.h — drop-in rooms: standing group calls of a circle (a mesh of peer connections between the
 * participants' browsers; the server only admits, lists and relays signals).
 *
 * Owns: the `room.*` request types (PROTOCOL.md, "Drop-in rooms") and the Redis keys
 *   circle:<cid>:rooms   zset  room id by creation (the first is the circle's standing drop-in room,
 *                              made on the first room.list)
 *   room:<rid>           hash  circle, name, created_by, created
 *   room:<rid>:members   zset  device → expiry (unix ms, Redis clock)
 *   room:<rid>:p         hash  device → participant JSON {user:{id,name,display_name}, device, camera, mic}
 *   rooms:live           set   rooms that have (or had) participants: what the sweep walks
 *   room:<rid>:guests    set   (private rooms) the only users who may enter
 * A *private* room (room:<rid> has private=1, opens, closes in unix s, no circle) belongs to no circle:
 * only its guests enter it, only between opens and closes, and its events go to the guests (ev:u) instead
 * of a circle. Scheduled mentoring makes one per booking (room id = booking id) with ROOMS_LUA_PRIVATE.
 * When it closes (the sweep, or ROOMS_LUA_PRIVATE's private_room_close) everyone inside is taken out and
 * the guests get `room.closed {room}`.
 * Join (with the cap check), leave, update and the sweep are Lua scripts that also PUBLISH
 * `room.participants` on ev:c:<cid>; `room.signal` is PUBLISHed on ev:u:<target user> with "to_device".
 * This node keeps which of its connections are in which room: it refreshes them every ttl/3 and removes
 * them when the connection goes; every node sweeps expired participants (a dead node's) every second.
 * Must not: block; let anyone but a circle member in, or relay signals for a non-participant.
 */
#ifndef STAFFROOM_ROOMS_H
#define STAFFROOM_ROOMS_H

#include "module.h"

#include <uv.h>

#include "conn.h"
#include "dispatch.h"

#define ROOMS_PER_CIRCLE_MAX 20

/* Lua for other modules' store scripts (writes):
 *   private_room_set(rid, name, a, b, opens, closes)  make or update the private room rid for users a and b,
 *                                                     open from `opens` until `closes` (unix s)
 *   private_room_close(rid)                           if rid is a private room: closes it now, takes
 *                                                     everyone out and tells the guests (room.closed) */
#define ROOMS_LUA_PRIVATE                                                                             \
    "local function private_room_set(rid, name, a, b, opens, closes)\n"                              \
    "  local k = 'room:' .. rid\n"                                                                  \
    "  redis.call('HSET', k, 'private', '1', 'name', name, 'standing', '0', 'opens', opens, 'closes', closes)\n" \
    "  redis.call('SADD', k .. ':guests', a, b)\n"                                                  \
    "  redis.call('EXPIREAT', k, tonumber(closes) + 86400)\n"                                       \
    "  redis.call('EXPIREAT', k .. ':guests', tonumber(closes) + 86400)\n"                          \
    "end\n"                                                                                        \
    "local function private_room_close(rid)\n"                                                     \
    "  local k = 'room:' .. rid\n"                                                                  \
    "  if redis.call('HGET', k, 'private') ~= '1' then return end\n"                                \
    "  redis.call('HSET', k, 'closes', '0')\n"                                                      \
    "  redis.call('DEL', k .. ':members', k .. ':p')\n"                                             \
    "  local ev = '{\"type\":\"room.closed\",\"room\":' .. cjson.encode(rid) .. '}'\n"              \
    "  for _, g in ipairs(redis.call('SMEMBERS', k .. ':guests')) do redis.call('PUBLISH', 'ev:u:' .. g, ev) end\n" \
    "end\n"

/* The module of every room.* request: its handlers, timers and observers. */
extern const module_t rooms_module; /* registered by main.c */

/* The connection is signing out or closing: it leaves every room at once. */

#endif
