/* circles.h — subject circles: the directory, membership, join requests and member roles.
 *
 * Owns: the `circle.*` request types (PROTOCOL.md, "Circles") and the Redis keys circle:<cid>,
 * circle:<cid>:members, circle:<cid>:pending, user:<uid>:circles and the directory zset `circles`
 * (ARCHITECTURE.md). Creating a circle also makes its channels `general` and `help` (channel keys as in
 * channels.h).
 * Must not: keep any state in this process (every node answers from Redis), or deliver events itself:
 * membership changes are PUBLISHed by the same script that writes them — `circle.membership` on
 * ev:u:<user> (the bus then updates that user's connections' circle sets on every node) and
 * `circle.member_joined` / `circle.member_left` / `circle.role` on ev:c:<circle>.
 *
 * Who may do what: signed-in users browse (list, get) and join or leave; members see the member list;
 * moderators of the circle and admins handle join requests and roles; only admins create circles.
 */
#ifndef STAFFROOM_CIRCLES_H
#define STAFFROOM_CIRCLES_H

#include "module.h"

#include "dispatch.h"

/* The module of every circle.* request: its handlers, timers and observers. */
extern const module_t circles_module; /* registered by main.c */

#endif
