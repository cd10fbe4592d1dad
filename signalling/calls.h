/* calls.h — 1:1 video calls: invite, ring, accept (first device wins), decline, cancel, busy, ring
 * timeout, hang up, and relaying SDP/ICE (`call.signal`) to the other party's accepted device only.
 *
 * Owns: the `call.*` request types (PROTOCOL.md, "Calls"); the Redis keys
 *   call:<id>          hash  caller, callee, caller_dev, callee_dev (after accept), state (ringing|active)
 *   user:<uid>:call    string the call id a user is in (ringing or active): the busy check
 *   calls:deadlines    zset  "<id>|ring" → when an unanswered call times out; "<id>|caller" and
 *                            "<id>|callee" → when an active call ends because that party's node stopped
 *                            refreshing it (the node died), in unix ms
 * (the keys also carry a TTL as a safety net: ring timeout + 30 s while ringing, CALL_ACTIVE_TTL once
 * active, refreshed with the deadlines); every state change is one Lua function (lua/calls.lua) that also
 * PUBLISHes the events (targeted with bus.h's "to_device"/"not_device"), so calls work across nodes. Every node sweeps
 * calls:deadlines twice a second and claims what is due atomically, so a timeout or a dead party's call
 * ends exactly once whichever node started it, even if that node is gone. This node keeps only which of
 * its connections take part in which call (to end the call, reason "disconnected", when the connection
 * goes; to refresh its parties' deadlines every CALL_PARTY_TTL/3; to show in_call presence).
 * Must not: block; trust a client's claim to be a party (every script checks user and device).
 */
#ifndef STAFFROOM_CALLS_H
#define STAFFROOM_CALLS_H

#include "module.h"

#include <uv.h>

#include "conn.h"
#include "dispatch.h"

#define CALL_ACTIVE_TTL 60 /* seconds an active call's keys live without a refresh (safety net) */
#define CALL_PARTY_TTL 15  /* seconds after its node's last refresh that a vanished party ends the call */

/* The library function that puts two users straight into an active call, for other features (help.c: an
 * accepted help request), is lib.calls_open_active in signalling/lua/lib.lua; it uses the two values above,
 * which lib.lua repeats (tests/unit/signalling/test_lua_library.c checks that they agree). */

/* The module of every call.* request: its handlers, timers and observers. */
extern const module_t calls_module; /* registered by main.c */

/* Starts the refresh timer and hooks targeted bus deliveries (config from config_get()). */
/* Stops every timer (ring timers included); calls in Redis are left to their TTL or the parties. */
/* The connection is signing out or closing: the call it takes part in ends (reason "disconnected"). */

#endif
