/* bus.h — events between nodes: Redis pub/sub channels ev:u:<user> (a user's devices) and ev:c:<circle>
 * (a circle's members). Payloads are the event's JSON text exactly as clients receive it.
 *
 * Owns: the refcounted set of channels this node is subscribed to (one reference per local connection
 * that needs the channel), delivery of each published event to the right local connections, and the
 * circle.membership side effect (below).
 * Must not: keep state another node needs; parse payloads other than circle.membership.
 */
#ifndef STAFFROOM_BUS_H
#define STAFFROOM_BUS_H

#include <jansson.h>
#include <stddef.h>

#include "conn.h"

/* ---- the core API (ARCHITECTURE.md) ---- */
/* Publish a JSON event (text) to a user's devices or to a circle's members, on every node. Fire and
 * forget: if Redis is down the event is lost (and logged at debug). event is borrowed. */
void bus_publish_user(const char *user_id, json_t *event);
void bus_publish_circle(const char *circle_id, json_t *event);
/* A published event of type "circle.membership" {circle, user, status:"member"|"pending"|"none", role}
 * on ev:u:<user> also updates that user's connections' circle sets on every node (status "member" adds
 * the circle, anything else removes it) and is then forwarded to the client like any event. */

/* Targeted delivery (calls, rooms). An event published on ev:u:<user> whose top-level object has
 *   "to_device": DEVICE   is delivered only to the connection whose conn_device() is DEVICE;
 *   "not_device": DEVICE  is delivered to every device of the user except DEVICE.
 * The member is removed before the event reaches the client. Events without either member are forwarded
 * verbatim as before (only payloads containing the text "_device" are parsed). */
#define BUS_TO_DEVICE "to_device"
#define BUS_NOT_DEVICE "not_device"
/* Called for each local connection a targeted event (to_device or not_device) is delivered to, just
 * before it is sent; event borrowed for the call (already stripped of the routing member). One hook
 * (calls.c uses it to follow its calls' state); NULL removes it. */
typedef void (*bus_device_hook_fn)(conn_t *c, const json_t *event);
void bus_set_device_hook(bus_device_hook_fn fn);

/* Direct delivery to one device, the fast path of call and room signals: no script and no JSON work.
 * A device id is "<node>-<connection id>", so its node is known: a device on this node gets text at once;
 * one on another node gets it through a single PUBLISH to that node's own channel ev:n:<node> (every
 * node subscribes to its own from bus_init). On the device's node, the receiver registered for kind is
 * called with the connection, ctx (e.g. the call id, at most 127 bytes, no newline) and text (borrowed),
 * and decides from what that node knows whether to send it (conn_send_text). Fire and forget: nothing
 * is sent for a device that is gone, or while Redis is down for a remote one. */
typedef void (*bus_direct_fn)(conn_t *target, const char *ctx, const char *text, size_t len);
int bus_direct_register(const char *kind, bus_direct_fn fn); /* kind: static string; 0 or -1 (full) */
/* A receiver for kinds whose sender's node did all the checking: sends text to target if it is signed in. */
void bus_deliver_if_signed_in(conn_t *target, const char *ctx, const char *text, size_t len);
void bus_direct(const char *kind, const char *ctx, const char *device, const char *text, size_t len);

/* An observer sees every event of one type that reaches this node on a user or circle channel, once per
 * published message (not once per connection), before it is delivered; payload borrowed for the call.
 * rooms.c uses it to keep each room's participant devices for the room.signal fast path. Matched on the
 * text "type":"<type>" (the way the scripts write it). 0, or -1 when the table is full. */
typedef void (*bus_observer_fn)(const char *payload, size_t len);
int bus_observe(const char *type, bus_observer_fn fn);

/* One interceptor may take over the delivery of circle events of one type (presence.c coalesces presence
 * bursts with it): fn(circle, payload, len) is called for each such event arriving on ev:c:<circle> and
 * returns 1 if it will deliver it later itself with bus_deliver_circle (payload borrowed for the call:
 * copy it), 0 to let the bus deliver it now. */
typedef int (*bus_interceptor_fn)(const char *circle_id, const char *payload, size_t len);
int bus_intercept_circle(const char *type, bus_interceptor_fn fn);
/* Delivers payload (borrowed) to this node's connections in circle_id, as an ev:c: message would be. */
void bus_deliver_circle(const char *circle_id, const char *payload, size_t len);

/* Session channels ev:s:<session hash> (conn.c holds one reference per connection signed in with the
 * session): a message there goes to the one handler (accounts.c signs those connections out). session and
 * payload borrowed for the call. */
typedef void (*bus_session_fn)(const char *session, const char *payload, size_t len);
void bus_on_session(bus_session_fn fn);

/* A channel of this node's own outside the ev:* families (rooms' SFU link subscribes sfu:to:<node>): the
 * bus subscribes it (again after every reconnection) and hands each message on it to fn, payload borrowed
 * for the call. At most BUS_CHANNELS_MAX; 0, or -1 when full or the name is too long. */
#define BUS_CHANNELS_MAX 4
typedef void (*bus_channel_fn)(const char *payload, size_t len);
int bus_channel_open(const char *channel, bus_channel_fn fn);
void bus_channel_close(const char *channel);

/* ---- for conn.c and main.c ---- */
/* Subscribes this node's own channel ev:n:<node_id>. 0, or -1 if the id is too long. */
int bus_init(const char *node_id);
/* Take / drop one reference on a channel; the first reference subscribes, the last unsubscribes. */
void bus_ref(const char *channel);
void bus_unref(const char *channel);
/* store.c's handlers: a message arrived; the pub/sub connection (re)connected → subscribe everything. */
void bus_on_message(const char *channel, const char *payload, size_t len);
void bus_on_sub_up(void);
size_t bus_channel_count(void);
void bus_free_all(void);

#endif
