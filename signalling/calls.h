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
 * active, refreshed with the deadlines); every state change is one Lua script that also PUBLISHes the
 * events (targeted with bus.h's "to_device"/"not_device"), so calls work across nodes. Every node sweeps
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

/* Lua for features that put two users straight into an active call (help.c: an accepted help request),
 * to be placed in their scripts (one atomic step with their own writes):
 *   calls_busy(uid)  true if the user is in a call (ringing or active) that still exists.
 *   calls_open_active(id, a, adev, b, bdev, extra_a, extra_b)  writes call:<id> (caller a on device adev,
 *     callee b on device bdev, state active), both users' busy markers with CALL_ACTIVE_TTL and both
 *     parties' deadlines (calls:deadlines), then
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
    "  local t = redis.call('TIME')\n"                                                                \
    "  local due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + " CALLS_STR(CALL_PARTY_TTL) " * 1000\n" \
    "  redis.call('ZADD', 'calls:deadlines', due, id .. '|caller', due, id .. '|callee')\n"          \
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

/* The module of every call.* request: its handlers, timers and observers. */
extern const module_t calls_module; /* registered by main.c */

/* Starts the refresh timer and hooks targeted bus deliveries (config from config_get()). */
/* Stops every timer (ring timers included); calls in Redis are left to their TTL or the parties. */
/* The connection is signing out or closing: the call it takes part in ends (reason "disconnected"). */

#endif
