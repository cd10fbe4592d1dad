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

/* Lua for features that put two users straight into an active call (help.c: an accepted help request),
 * to be placed in their scripts (one atomic step with their own writes):
 *   calls_busy(uid)  true if the user is in a call (ringing or active) that still exists.
 *   calls_open_active(id, a, adev, b, bdev, extra_a, extra_b)  writes call:<id> (caller a on device adev,
 *     callee b on device bdev, state active) and both users' busy markers with CALL_ACTIVE_TTL, then
 *     publishes to each party's device the event an accepted call sends:
 *       to a:  {"type":"call.accepted","call":id,"peer":b,"polite":false, …extra_a}
 *       to b:  {"type":"call.accepted","call":id,"peer":a,"polite":true,  …extra_b}
 *     (extra_*: Lua tables of additional members, may be empty). From then on the call is like any
 *     accepted call: call.signal, call.hangup, refresh and disconnect handling all apply, and a's side is
 *     the impolite one that makes the offer. The caller of the macro checks that neither is busy. */
#define CALLS_LUA_OPEN_ACTIVE                                                                         \
    "local function calls_busy(uid)\n"                                                               \
    "  local id = redis.call('GET', 'user:' .. uid .. ':call')\n"                                    \
    "  return (id and redis.call('EXISTS', 'call:' .. id) == 1) and true or false\n"                  \
    "end\n"                                                                                          \
    "local function calls_open_active(id, a, adev, b, bdev, extra_a, extra_b)\n"                      \
    "  local ttl = " CALLS_STR(CALL_ACTIVE_TTL) "\n"                                                  \
    "  redis.call('HSET', 'call:' .. id, 'caller', a, 'callee', b, 'caller_dev', adev,\n"              \
    "    'callee_dev', bdev, 'state', 'active')\n"                                                    \
    "  redis.call('EXPIRE', 'call:' .. id, ttl)\n"                                                   \
    "  redis.call('SET', 'user:' .. a .. ':call', id, 'EX', ttl)\n"                                  \
    "  redis.call('SET', 'user:' .. b .. ':call', id, 'EX', ttl)\n"                                  \
    "  for _, s in ipairs({{a, adev, b, false, extra_a}, {b, bdev, a, true, extra_b}}) do\n"          \
    "    local ev = {type = 'call.accepted', call = id, peer = s[3], polite = s[4]}\n"                 \
    "    for k, v in pairs(s[5] or {}) do ev[k] = v end\n"                                            \
    "    redis.call('PUBLISH', 'ev:u:' .. s[1], string.sub(cjson.encode(ev), 1, -2) ..\n"             \
    "      ',\"to_device\":' .. cjson.encode(s[2]) .. '}')\n"                                         \
    "  end\n"                                                                                        \
    "end\n"
#define CALLS_STR_(x) #x
#define CALLS_STR(x) CALLS_STR_(x)

/* The handlers of every call.* request; ends with {NULL}. */
extern const handler_t calls_handlers[];

/* Starts the refresh timer and hooks targeted bus deliveries (config from config_get()). */
int calls_start(uv_loop_t *loop);
/* Stops every timer (ring timers included); calls in Redis are left to their TTL or the parties. */
void calls_stop(void);
/* The connection is signing out or closing: the call it takes part in ends (reason "disconnected"). */
void calls_conn_gone(conn_t *c);

#endif
