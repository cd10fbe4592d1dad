/* presence.h — who is online, per device, per user and per circle; kept in Redis so that every node
 * sees the same thing and a node's death is noticed by the others (its devices expire).
 *
 * Owns: presence.set; this node's device heartbeats (every presence-ttl/3) and the periodic sweep of
 * expired devices (every presence-sweep-interval, on every node; atomic Lua, so concurrent sweeps
 * announce each change once); `presence` events; the presence keys in Redis:
 *   presence:devices       zset  "<uid>/<device>" → expiry (unix ms, Redis clock)
 *   presence:user:<uid>    hash  device → status (online, away, busy, in_call)
 *   presence:online        zset  uid → latest live device expiry (online while score > now)
 *   presence:status        hash  uid → the combined status last announced (absent = offline)
 * Combined status of a user over live devices: in_call > busy > online > away > offline.
 * Event, published on ev:c:<cid> for every circle the user is a member of (user:<uid>:circles = member),
 * whenever the combined status changes: {"type":"presence","user":UID,"status":STATUS,"circle":CID,
 * "on_duty":BOOL} (on_duty: on duty for help requests in that circle, help.h)
 * (a client sharing two circles with the user gets one event per circle; each carries the full status).
 * Must not: keep anything another node needs; the device list it heartbeats is its own connections.
 */
#ifndef STAFFROOM_PRESENCE_H
#define STAFFROOM_PRESENCE_H

#include "module.h"

#include <stddef.h>
#include <uv.h>

#include "conn.h"
#include "store.h"


/* ---- for circles.c and other features ---- */
/* Online and experts-online counts of circles, in one round trip. circle_ids borrowed (n >= 1).
 * cb gets an array of 2n integers: [online_1, experts_online_1, online_2, …], or NULL/an error.
 * "online": members with at least one live device, whatever its status (away included).
 * "experts online": those of them whose role in circle:<cid>:members is expert or mentor. */
void presence_circle_counts(size_t n, const char *const *circle_ids, store_cb cb, void *priv);
/* Combined statuses of users: cb gets an array of n strings (online, away, busy, in_call, offline). */
void presence_users_status(size_t n, const char *const *user_ids, store_cb cb, void *priv);
/* Sets this device's status (e.g. "in_call" from the calls module; "online" to leave a call).
 * Fire and forget. */
void presence_set_device(conn_t *c, const char *status);

/* Calls and rooms: on=1 when c starts taking part in a call or room (its device shows in_call),
 * on=0 when it stops; nested (a device in a call and a room stays in_call until both end). Leaving the
 * last one restores the status the device had before. */
void presence_media(conn_t *c, int on);

/* ---- for conn.c, accounts.c and main.c ---- */
/* The connection has just signed in: announce its device (status online). */
void presence_device_up(conn_t *c);
/* The connection is signing out or closing: remove its device now. */
/* Starts the heartbeat and sweep timers (config borrowed from config_get()). */
/* The command connection to Redis is (again) up: refresh every local device at once (Redis may have
 * restarted and lost them, or swept them during the outage). */
void presence_on_store_up(void);

extern const module_t presence_module; /* registered by main.c */

#endif
