/* help.h — help requests: "find an expert now". Experts and mentors of a circle go on and off duty; a
 * member's request is offered to every on-duty expert of that circle who is not in a call; the first
 * accept wins and puts requester and expert into an active 1:1 call (lib.calls_open_active in signalling/lua/lib.lua);
 * the others are told it was taken. Unanswered requests time out (config `help-timeout`), the requester
 * may wait again; every request also stands, with its status, as a message in the circle's `help`
 * channel. PROTOCOL.md, "Help requests", has every message.
 *
 * Owns: the `help.*` request types; the Redis keys
 *   help:duty:<cid>        hash   uid → device that went on duty (on duty while that device is live)
 *   help:<rid>             hash   circle, requester, requester_dev, topic, details, status
 *                                 (open|taken|unanswered|cancelled; a taken request whose call is
 *                                 over reads as answered), taken_by, call, created (ms),
 *                                 channel, message (the help channel message id), deadline (ms)
 *   help:<rid>:offered     set    uids the request was offered to
 *   circle:<cid>:help      zset   rid by creation time (help.list)
 *   help:deadlines         zset   rid → deadline (unix ms, Redis clock) of the open requests
 * Every state change is one Lua function (lua/help.lua) that also publishes its events, so help works across nodes.
 * Timeouts: every node runs a periodic sweep (uv_timer, `help-sweep-interval`) whose script claims due
 * deadlines with ZREM, so each timeout is announced exactly once whichever node sweeps first, and a
 * request outlives the node that created it.
 * Must not: block; keep state another node needs (this node keeps only its sweep timer).
 */
#ifndef STAFFROOM_HELP_H
#define STAFFROOM_HELP_H

#include "module.h"

#include <uv.h>

#include "dispatch.h"

#define HELP_TOPIC_MAX 120
#define HELP_DETAILS_MAX 2000
#define HELP_SWEEP_BATCH 100 /* deadlines claimed per sweep */

/* The module of every help.* request: its handlers, timers and observers. */
extern const module_t help_module; /* registered by main.c */

/* Starts the timeout sweep (config from config_get()). Returns 0. */
/* Stops the sweep timer; requests in Redis stay and are swept by the other nodes. */

#endif
