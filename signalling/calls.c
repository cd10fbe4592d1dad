/* calls.c — see calls.h. */
#include "calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "feature.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "presence.h"
#include "store.h"
#include "connlist.h"

#define CALL_REFRESH_MS (CALL_PARTY_TTL * 1000 / 3) /* a party's node pushes its deadline back this often */
#define CALL_SWEEP_MS 500                           /* how often every node claims due deadlines */
#define CALL_SWEEP_BATCH "200"                      /* deadlines claimed per sweep: bounded work per call */

/* The rules (one library function per state change, each publishing its own events) are in
 * signalling/lua/calls.lua. The keys a request names are passed as its KEYS: */
#define KEY_MAX 64 /* "user:<uid>:call" with a 32-character id, and room to spare */
static const char *call_key(char out[KEY_MAX], const char *id)
{
    snprintf(out, KEY_MAX, "call:%s", id);
    return out;
}
static const char *user_key(char out[KEY_MAX], const char *uid, const char *suffix)
{
    snprintf(out, KEY_MAX, "user:%s%s", uid, suffix);
    return out;
}

/* ---------------- this node's part: who is in which call; the deadline sweep ---------------- */

/* A local connection's part in a call. The peer's device comes with call.accepted: from then on this
 * node can authorise and route the connection's call.signal itself (the fast path). */
typedef struct part {
    struct part *next;     /* every part on this node (the refresh walks them) */
    connlist_link_t link;  /* the same connection's parts; link.conn is the connection */
    char call[FEATURE_ID_LEN + 1];
    int active; /* counted in the connection's presence (presence_media) */
    char peer_dev[96]; /* "" until call.accepted named it */
} part_t;

static part_t *parts;
static connlist_t by_conn; /* O(1) on the signal path: a connection is in one or two calls at most */
static uv_timer_t refresher, sweeper;
static int started;

static part_t *part_find(uint64_t conn, const char *call)
{
    for (connlist_link_t *l = connlist_first(&by_conn, conn); l; l = l->next) {
        part_t *p = CONNLIST_ITEM(l, part_t, link);
        if (!call || strcmp(p->call, call) == 0)
            return p;
    }
    return NULL;
}

static part_t *part_add(uint64_t conn, const char *call)
{
    part_t *p = part_find(conn, call);
    if (p || !(p = calloc(1, sizeof *p)))
        return p;
    p->link.conn = conn;
    snprintf(p->call, sizeof p->call, "%s", call);
    if (connlist_add(&by_conn, &p->link) < 0) {
        free(p);
        return NULL;
    }
    p->next = parts;
    parts = p;
    return p;
}

/* Unlinks and frees p; gives the connection's in_call back if p counted. */
static void part_remove(part_t *p)
{
    for (part_t **pp = &parts; *pp; pp = &(*pp)->next) {
        if (*pp != p)
            continue;
        *pp = p->next;
        connlist_remove(&by_conn, &p->link);
        conn_t *c = conn_find(p->link.conn);
        if (p->active && c)
            presence_media(c, 0);
        free(p);
        return;
    }
}

static void part_activate(part_t *p)
{
    conn_t *c = conn_find(p->link.conn);
    if (p->active || !c)
        return;
    p->active = 1;
    presence_media(c, 1);
}

/* bus.h hook: follows this node's connections' calls from the events the library functions publish. */
static void on_targeted(conn_t *c, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *call = json_string_value(json_object_get(ev, "call"));
    if (!type || !call || strlen(call) != FEATURE_ID_LEN)
        return;
    if (strcmp(type, "call.accepted") == 0) {
        part_t *p = part_add(conn_id(c), call);
        const char *peer_dev = json_string_value(json_object_get(ev, "peer_device"));
        if (p && peer_dev)
            snprintf(p->peer_dev, sizeof p->peer_dev, "%s", peer_dev);
        if (p)
            part_activate(p);
    } else if (strcmp(type, "call.ended") == 0) {
        part_t *p = part_find(conn_id(c), call);
        if (p)
            part_remove(p);
    }
}

static void refresh_fire(uv_timer_t *t)
{
    (void)t;
    enum { MAX = 256 };
    const char *args[2 * MAX];
    int n = 0;
    for (part_t *p = parts; p; p = p->next) {
        conn_t *c = conn_find(p->link.conn);
        if (!p->active || !c)
            continue;
        args[n++] = p->call;
        args[n++] = conn_device(c);
        if (n == 2 * MAX) {
            store_fcall("call_refresh", NULL, NULL, 0, n, args);
            n = 0;
        }
    }
    if (n && store_is_up())
        store_fcall("call_refresh", NULL, NULL, 0, n, args);
}

static void sweep_fire(uv_timer_t *t)
{
    (void)t;
    const char *args[] = {CALL_SWEEP_BATCH};
    if (store_is_up())
        store_fcall("call_sweep", NULL, NULL, 0, 1, args);
}

static int calls_start(uv_loop_t *loop)
{
    uv_timer_init(loop, &refresher);
    uv_timer_init(loop, &sweeper);
    uv_timer_start(&refresher, refresh_fire, CALL_REFRESH_MS, CALL_REFRESH_MS);
    uv_timer_start(&sweeper, sweep_fire, CALL_SWEEP_MS, CALL_SWEEP_MS);
    bus_set_device_hook(on_targeted);
    /* The sender's node authorised the signal from its own part in the call, and the target is the peer
     * device that call.accepted named: delivered as it is. */
    bus_direct_register("call", bus_deliver_if_signed_in);
    started = 1;
    return 0;
}

static void calls_stop(void)
{
    if (!started)
        return;
    started = 0;
    bus_set_device_hook(NULL);
    uv_close((uv_handle_t *)&refresher, NULL);
    uv_close((uv_handle_t *)&sweeper, NULL);
    while (parts) {
        part_t *p = parts;
        parts = p->next;
        free(p);
    }
    connlist_clear(&by_conn);
}

static void calls_conn_gone(conn_t *c)
{
    part_t *p;
    while ((p = part_find(conn_id(c), NULL))) {
        char ck[KEY_MAX];
        const char *args[] = {call_key(ck, p->call), p->call, conn_user(c), conn_device(c), "disconnect",
                              "disconnected"};
        store_fcall("call_end", NULL, NULL, 1, 5, args);
        p->active = 0; /* the connection is going: no presence change for it */
        part_remove(p);
    }
}

/* ---------------- requests ---------------- */

/* Who asked to join a call, copied when the request is made: by the time the answer comes the connection
 * may be gone, and its user and device are still needed to take it out of the call again. */
typedef struct {
    char user[40];
    char device[96];
} joiner_t;

static joiner_t *joiner_new(conn_t *c)
{
    joiner_t *j = malloc(sizeof *j);
    if (j) {
        snprintf(j->user, sizeof j->user, "%s", conn_user(c));
        snprintf(j->device, sizeof j->device, "%s", conn_device(c));
    }
    return j;
}

/* call.invite / call.accept answered: the connection now takes part in the call the answer names, ringing
 * or active (call.accepted from the bus activates it, in whichever order the two come). If the connection
 * closed while the request was in flight, its close found no part to end: the device leaves the call now,
 * as calls_conn_gone would have made it (otherwise the call would wait for the party's deadline, and the
 * users stay busy meanwhile). priv: the joiner_t (freed here). */
static void after_join(req_t *r, const json_t *fields, void *priv)
{
    joiner_t *j = priv;
    const char *call = json_string_value(json_object_get(fields, "call"));
    const char *state = json_string_value(json_object_get(fields, "state"));
    if (call && state && (strcmp(state, "ringing") == 0 || strcmp(state, "active") == 0) &&
        strlen(call) == FEATURE_ID_LEN) {
        if (conn_find(req_conn(r))) {
            part_add(req_conn(r), call);
        } else if (j) {
            char ck[KEY_MAX];
            const char *args[] = {call_key(ck, call), call, j->user, j->device, "disconnect", "disconnected"};
            store_fcall("call_end", NULL, NULL, 1, 5, args);
        }
    }
    free(j);
}

/* call.decline / cancel / hangup answered ok: the connection is out of that call. priv: the call id. */
static void after_end(req_t *r, const json_t *fields, void *priv)
{
    part_t *p = fields ? part_find(req_conn(r), priv) : NULL;
    if (p)
        part_remove(p);
    free(priv);
}

/* The request's signed-in connection, or NULL (answered). */
static conn_t *req_conn_live(req_t *r)
{
    conn_t *c = conn_find(req_conn(r));
    if (!c || !conn_user(c)) {
        req_error(r, E_UNAUTHORIZED, "sign in first");
        return NULL;
    }
    return c;
}

static void on_invite(req_t *r)
{
    const char *user;
    if (feature_req_id(r, "user", 0, 1, &user) < 0)
        return;
    conn_t *c = req_conn_live(r);
    char id[FEATURE_ID_LEN + 1], ring[24];
    if (!c)
        return;
    if (feature_id_new(id) < 0) {
        req_error(r, E_INTERNAL, "no random source");
        return;
    }
    snprintf(ring, sizeof ring, "%lld", config_get()->call_ring_timeout);
    char ck[KEY_MAX], ak[KEY_MAX], bk[KEY_MAX], uk[KEY_MAX];
    const char *args[] = {call_key(ck, id), user_key(ak, conn_user(c), ":call"), user_key(bk, user, ":call"),
                          user_key(uk, user, ""), id, conn_user(c), conn_device(c), user, ring};
    feature_eval_then(r, "call_invite", 4, 5, args, after_join, joiner_new(c));
}

static void on_accept(req_t *r)
{
    const char *call;
    if (feature_req_id(r, "call", 0, 1, &call) < 0)
        return;
    conn_t *c = req_conn_live(r);
    if (!c)
        return;
    char ck[KEY_MAX];
    const char *args[] = {call_key(ck, call), call, conn_user(c), conn_device(c)};
    feature_eval_then(r, "call_accept", 1, 3, args, after_join, joiner_new(c));
}

static void end_request(req_t *r, const char *action)
{
    const char *call, *reason = "hangup";
    static const char *const reasons[] = {"hangup", "failed", NULL};
    if (feature_req_id(r, "call", 0, 1, &call) < 0)
        return;
    if (strcmp(action, "hangup") == 0 && feature_req_enum(r, "reason", reasons, 0, &reason) < 0)
        return;
    conn_t *c = req_conn_live(r);
    if (!c)
        return;
    char *id = strdup(call);
    if (!id) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    char ck[KEY_MAX];
    const char *args[] = {call_key(ck, call), call, conn_user(c), conn_device(c), action, reason};
    feature_eval_then(r, "call_end", 1, 5, args, after_end, id);
}

static void on_decline(req_t *r) { end_request(r, "decline"); }
static void on_cancel(req_t *r) { end_request(r, "cancel"); }
static void on_hangup(req_t *r) { end_request(r, "hangup"); }

static void on_signal(req_t *r)
{
    const char *call;
    if (feature_req_id(r, "call", 0, 1, &call) < 0)
        return;
    json_t *data = json_object_get(req_json(r), "data");
    if (!json_is_object(data)) {
        req_error_ex(r, E_BAD_REQUEST, "data", 0, "'data' must be an object (an SDP description or an ICE candidate)");
        return;
    }
    conn_t *c = req_conn_live(r);
    if (!c)
        return;
    size_t len;
    char head[192];
    snprintf(head, sizeof head, "{\"type\":\"call.signal\",\"call\":\"%s\",\"from\":\"%s\"", call, conn_device(c));
    char *text = feature_event_with_data(r, head, data, &len);
    if (!text) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    part_t *p = part_find(conn_id(c), call);
    if (p && p->active && p->peer_dev[0]) {
        /* Fast path: this connection is a party of the active call (the call's own events said so), and
         * the peer's device is known: straight to it, on this node or through its node's channel. */
        bus_direct("call", call, p->peer_dev, text, len);
        free(text);
        req_ok(r, NULL);
        return;
    }
    /* Not known here as an active party (ringing, ended, or not a party at all): the script decides, and
     * answers not_found / forbidden / conflict exactly. */
    char ck[KEY_MAX];
    const char *args[] = {call_key(ck, call), call, conn_user(c), conn_device(c), text};
    feature_eval_answer(r, "call_signal", 1, 4, args);
    free(text);
}

static const handler_t handlers[] = {
    {"call.invite", on_invite, H_RL_MSG},
    {"call.accept", on_accept, H_RL_READ},
    {"call.decline", on_decline, H_RL_READ},
    {"call.cancel", on_cancel, H_RL_READ},
    {"call.hangup", on_hangup, H_RL_READ},
    {"call.signal", on_signal, H_RL_SIGNAL | H_PASS_DATA},
    {NULL, NULL, 0},
};

static int calls_start(uv_loop_t *loop);
static void calls_stop(void);
static void calls_conn_gone(conn_t *c);

const module_t calls_module = {
    .name = "calls",
    .handlers = handlers,
    .start = calls_start,
    .stop = calls_stop,
    .conn_gone = calls_conn_gone,
};
