/* rooms.h — drop-in rooms: standing group calls of a circle. Their media goes through staffroom-sfu
 * (config room-media sfu: one peer connection per participant, to the room's SFU, negotiated with
 * room.media.*) or, with room-media mesh, through a mesh of peer connections between the participants'
 * browsers (the server only admits, lists and relays room.signal).
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
 * of a circle. Scheduled mentoring makes one per booking (room id = booking id) with lib.private_room_set
 * (signalling/lua/lib.lua). When it closes (the sweep, or lib.private_room_close) everyone inside is taken
 * out and the guests get `room.closed {room}`.
 * Join (with the cap check), leave, update and the sweep are Lua functions (lua/rooms.lua) that also PUBLISH
 * `room.participants` on ev:c:<cid>; `room.signal` is PUBLISHed on ev:u:<target user> with "to_device".
 * This node keeps which of its connections are in which room: it refreshes them every ttl/3 and removes
 * them when the connection goes; every node sweeps expired participants (a dead node's) every second.
 * Media through the SFU (ARCHITECTURE.md, "Group media"): room:<rid>:sfu names the room's SFU (placed by
 * room_place_sfu on each offer, so a dead or draining SFU is left at the next offer); this node keeps
 * which SFU serves each of its participants, forwards the SFUs' messages on sfu:to:<node> (sfu_link.h)
 * to them, checks every sfu-check-interval that those SFUs are alive (room.media.reset when one is gone),
 * and tells the SFU when a participant leaves (leave) or a private room closes (close).
 * Must not: block; let anyone but a circle member in, or relay signals for a non-participant.
 */
#ifndef STAFFROOM_ROOMS_H
#define STAFFROOM_ROOMS_H

#include "module.h"

#include <uv.h>

#include "conn.h"
#include "dispatch.h"

#define ROOMS_PER_CIRCLE_MAX 20
#define ROOM_SDP_MAX_BYTES 65536 /* a room.media SDP longer than this is answered too_large */

/* Other features make and close private rooms inside their own library functions with
 * lib.private_room_set and lib.private_room_close (signalling/lua/lib.lua). */

/* The module of every room.* request: its handlers, timers and observers. */
extern const module_t rooms_module; /* registered by main.c */

/* The connection is signing out or closing: it leaves every room at once. */

#endif
