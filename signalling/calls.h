/* calls.h — 1:1 video calls: invite, ring, accept (first device wins), decline, cancel, busy, ring
 * timeout, hang up, and relaying SDP/ICE (`call.signal`) to the other party's accepted device only.
 *
 * Owns: the `call.*` request types (PROTOCOL.md, "Calls"); the Redis keys
 *   call:<id>          hash  caller, callee, caller_dev, callee_dev (after accept), state (ringing|active)
 *   user:<uid>:call    string the call id a user is in (ringing or active): the busy check
 * (both with a TTL: ring timeout + 30 s while ringing, CALL_ACTIVE_TTL once active, refreshed by the
 * parties' nodes every CALL_REFRESH_S, so a dead node's calls vanish); every state change is one Lua
 * script that also PUBLISHes the events (targeted with bus.h's "to_device"/"not_device"), so calls work
 * across nodes. This node keeps only: a ring timer per call it started (uv_timer; on expiry the script
 * ends the call if it still rings) and which of its connections take part in which call (to end the
 * call, reason "disconnected", when the connection goes, and to show in_call presence).
 * Must not: block; trust a client's claim to be a party (every script checks user and device).
 */
#ifndef STAFFROOM_CALLS_H
#define STAFFROOM_CALLS_H

#include <uv.h>

#include "conn.h"
#include "dispatch.h"

#define CALL_ACTIVE_TTL 60 /* seconds an active call's keys live without a refresh */
#define CALL_REFRESH_S 20  /* how often a node refreshes the calls of its connections */

/* The handlers of every call.* request; ends with {NULL}. */
extern const handler_t calls_handlers[];

/* Starts the refresh timer and hooks targeted bus deliveries (config from config_get()). */
int calls_start(uv_loop_t *loop);
/* Stops every timer (ring timers included); calls in Redis are left to their TTL or the parties. */
void calls_stop(void);
/* The connection is signing out or closing: the call it takes part in ends (reason "disconnected"). */
void calls_conn_gone(conn_t *c);

#endif
