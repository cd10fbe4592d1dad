/* readmark.h — read markers and unread counts (PROTOCOL.md, "Read markers and unread counts").
 *
 * Owns: the request types channel.read and unread.counts, and the Redis key
 *   readmark:<uid>   hash   channel id → the id of the last message the user has read there
 * (written by lua/readmark.lua, and by circles.lua when someone joins a circle: it starts at each channel's
 * newest message; read by lib.unread_of, which channel.list uses too). A marker never moves
 * backwards, so two devices marking at once keep the later one; the user's other devices hear of each
 * change (event channel.read on ev:u:<uid>).
 * Counting is bounded: at most 101 messages are read per channel (unread is capped at 100).
 * Must not: keep state in this process; let anyone but the circle's members mark or count its channels.
 */
#ifndef STAFFROOM_READMARK_H
#define STAFFROOM_READMARK_H

#include "module.h"

extern const module_t readmark_module; /* registered by main.c */

#endif
