/* rooms.c — see rooms.h. */
#include "rooms.h"

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
#include "strmap.h"

#define SWEEP_MS 1000
#define SWEEP_ROOMS "200" /* rooms looked at per sweep: bounded work per Redis call */

/* ---------------- this node's participants ---------------- */

typedef struct part {
    struct part *next;    /* every participation on this node (the refresh walks them) */
    connlist_link_t link; /* the same connection's other rooms; link.conn is the connection */
    char room[FEATURE_ID_LEN + 2]; /* "s" suffix: a standing room made by room.create */
} part_t;

static part_t *parts;
static connlist_t by_conn; /* O(1) on the signal path */
static uv_timer_t refresher, sweeper;
static int started;

static char *ttl_ms(char *buf, size_t n)
{
    snprintf(buf, n, "%lld", config_get()->room_participant_ttl * 1000);
    return buf;
}

static part_t *part_find(uint64_t conn, const char *room)
{
    for (connlist_link_t *l = connlist_first(&by_conn, conn); l; l = l->next) {
        part_t *p = CONNLIST_ITEM(l, part_t, link);
        if (!room || strcmp(p->room, room) == 0)
            return p;
    }
    return NULL;
}

static void part_add(conn_t *c, const char *room)
{
    if (part_find(conn_id(c), room))
        return;
    part_t *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->link.conn = conn_id(c);
    snprintf(p->room, sizeof p->room, "%s", room);
    if (connlist_add(&by_conn, &p->link) < 0) {
        free(p);
        return;
    }
    p->next = parts;
    parts = p;
    presence_media(c, 1);
}

/* Unlinks and frees p; c (may be NULL) gets its presence back. */
static void part_remove(part_t *p, conn_t *c)
{
    for (part_t **pp = &parts; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    connlist_remove(&by_conn, &p->link);
    if (c)
        presence_media(c, 0);
    free(p);
}

/* ---------------- rosters: each room's participant devices, for the room.signal fast path ---------------- */

/* Kept from the room.participants events this node receives (its connections' circles and private
 * rooms) and from room.join answers. A roster can lag the truth by one event: a signal for a device not in
 * it takes the script path, which decides exactly; one to a device that left a moment ago reaches a
 * client that ignores it. */
#define ROSTERS_MAX 20000 /* rooms remembered at once; past it new rooms use the script path */

typedef struct {
    size_t n;
    char devs[][96];
} roster_t;

static strmap_t *rosters; /* room id → roster_t* */

static void roster_set(const char *room, const json_t *participants)
{
    if (!rosters && !(rosters = strmap_new()))
        return;
    size_t n = json_array_size(participants);
    roster_t *old = strmap_get(rosters, room), *r = NULL;
    if (n > 0 && (old || strmap_count(rosters) < ROSTERS_MAX) && (r = malloc(sizeof *r + n * sizeof r->devs[0]))) {
        r->n = 0;
        for (size_t i = 0; i < n; i++) {
            const char *d = json_string_value(json_object_get(json_array_get(participants, i), "device"));
            if (d && strlen(d) < sizeof r->devs[0])
                memcpy(r->devs[r->n++], d, strlen(d) + 1);
        }
        if (strmap_put(rosters, room, r) < 0) {
            free(r);
            r = NULL;
        }
    }
    if (!r)
        strmap_del(rosters, room);
    free(old);
}

static int roster_has(const char *room, const char *device)
{
    roster_t *r = rosters ? strmap_get(rosters, room) : NULL;
    for (size_t i = 0; r && i < r->n; i++)
        if (strcmp(r->devs[i], device) == 0)
            return 1;
    return 0;
}

static void free_roster(const char *key, void *val, void *arg)
{
    (void)key;
    (void)arg;
    free(val);
}

static void rosters_free(void)
{
    if (rosters)
        strmap_foreach(rosters, free_roster, NULL);
    strmap_free(rosters);
    rosters = NULL;
}

/* bus observer: a room.participants event reached this node. */
static void on_participants(const char *payload, size_t len)
{
    json_t *ev = json_loadb(payload, len, 0, NULL);
    const char *room = json_string_value(json_object_get(ev, "room"));
    json_t *list = json_object_get(ev, "participants");
    if (room && json_is_array(list))
        roster_set(room, list);
    json_decref(ev);
}

static void rooms_conn_gone(conn_t *c)
{
    part_t *p;
    while ((p = part_find(conn_id(c), NULL))) {
        const char *args[] = {p->room, conn_device(c), "1"};
        store_fcall("room_leave", NULL, NULL, 0, 3, args);
        part_remove(p, NULL); /* the device is going away: presence forgets it anyway */
    }
}

static void refresh_fire(uv_timer_t *t)
{
    (void)t;
    enum { MAX = 200 };
    const char *args[1 + 2 * MAX];
    char ttl[32];
    args[0] = ttl_ms(ttl, sizeof ttl);
    int n = 1;
    for (part_t *p = parts; p; p = p->next) {
        conn_t *c = conn_find(p->link.conn);
        if (!c)
            continue;
        args[n++] = p->room;
        args[n++] = conn_device(c);
        if (n == 1 + 2 * MAX) {
            store_fcall("room_refresh", NULL, NULL, 0, n, args);
            n = 1;
        }
    }
    if (n > 1)
        store_fcall("room_refresh", NULL, NULL, 0, n, args);
}

static void sweep_fire(uv_timer_t *t)
{
    (void)t;
    const char *args[] = {SWEEP_ROOMS};
    if (store_is_up())
        store_fcall("room_sweep", NULL, NULL, 0, 1, args);
}

static int rooms_start(uv_loop_t *loop)
{
    uint64_t every = (uint64_t)config_get()->room_participant_ttl * 1000 / 3;
    uv_timer_init(loop, &refresher);
    uv_timer_init(loop, &sweeper);
    uv_timer_start(&refresher, refresh_fire, every, every);
    uv_timer_start(&sweeper, sweep_fire, SWEEP_MS, SWEEP_MS);
    bus_observe("room.participants", on_participants);
    bus_direct_register("room", bus_deliver_if_signed_in); /* the sender's node checked both ends */
    started = 1;
    return 0;
}

static void rooms_stop(void)
{
    if (!started)
        return;
    started = 0;
    uv_close((uv_handle_t *)&refresher, NULL);
    uv_close((uv_handle_t *)&sweeper, NULL);
    while (parts) {
        part_t *p = parts;
        parts = p->next;
        free(p);
    }
    connlist_clear(&by_conn);
    rosters_free();
}

/* ---------------- requests ---------------- */

/* room.join answered: on success this node records the participation (refreshed, in_call presence); if
 * the connection went while joining, the device is taken out again. priv: the room id (malloc'd). */
static void after_join(req_t *r, const json_t *fields, void *priv)
{
    char *room = priv;
    conn_t *c = conn_find(req_conn(r));
    if (fields && c) {
        part_add(c, room);
        roster_set(room, json_object_get(json_object_get(fields, "room"), "participants"));
    } else if (fields) {
        const char *args[] = {room, json_string_value(json_object_get(fields, "device")), "1"};
        if (args[1])
            store_fcall("room_leave", NULL, NULL, 0, 3, args);
    }
    free(room);
}

/* room.leave answered, either way: this node forgets the participation — also when the room no longer
 * had the device (a private room that closed took everyone out), so presence does not stay in_call. */
static void after_leave(req_t *r, const json_t *fields, void *priv)
{
    (void)fields;
    char *room = priv;
    conn_t *c = conn_find(req_conn(r));
    part_t *p = c ? part_find(conn_id(c), room) : NULL;
    if (p)
        part_remove(p, c);
    free(room);
}

static void run_then(req_t *r, const char *fn, const char *room, feature_then_fn then, int nargs,
                     const char **args)
{
    char *copy = strdup(room);
    if (!copy) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    feature_eval_then(r, fn, 0, nargs, args, then, copy);
}

static conn_t *signed_in(req_t *r)
{
    conn_t *c = conn_find(req_conn(r));
    if (!c || !conn_user(c)) {
        req_error(r, E_UNAUTHORIZED, "sign in first");
        return NULL;
    }
    return c;
}

/* A room id: a circle-style id, optionally with the "s" suffix of a standing room made by room.create. */
static int req_room(req_t *r, const char **out)
{
    const char *v;
    if (req_str(r, "room", 1, FEATURE_ID_LEN + 1, 1, &v) < 0)
        return -1;
    char buf[FEATURE_ID_LEN + 1];
    snprintf(buf, sizeof buf, "%s", v);
    size_t n = strlen(v);
    if (!feature_id_valid(buf) || (n == FEATURE_ID_LEN + 1 && v[FEATURE_ID_LEN] != 's')) {
        req_error_ex(r, E_BAD_REQUEST, "room", 0, "room is not a valid room id");
        return -1;
    }
    *out = v;
    return 0;
}

static void on_list(req_t *r)
{
    const char *circle;
    char id[FEATURE_ID_LEN + 1];
    if (feature_req_id(r, "circle", 0, 1, &circle) < 0)
        return;
    if (feature_id_new(id) < 0) {
        req_error(r, E_INTERNAL, "no random source");
        return;
    }
    const char *args[] = {circle, req_user(r), id};
    feature_eval_answer(r, "room_list", 0, 3, args);
}

static void on_create(req_t *r)
{
    const char *circle, *name;
    char id[FEATURE_ID_LEN + 1], max[16];
    if (feature_req_id(r, "circle", 0, 1, &circle) < 0 || req_str(r, "name", 1, 64, 1, &name) < 0)
        return;
    if (feature_id_new(id) < 0) {
        req_error(r, E_INTERNAL, "no random source");
        return;
    }
    snprintf(max, sizeof max, "%d", ROOMS_PER_CIRCLE_MAX);
    const char *args[] = {circle, req_user(r), id, name, max};
    feature_eval_answer(r, "room_create", 0, 5, args);
}

/* camera and mic: both required for join, both for update. */
static int req_av(req_t *r, const char **camera, const char **mic)
{
    int cam = 0, m = 0;
    if (req_bool(r, "camera", 1, &cam) < 0 || req_bool(r, "mic", 1, &m) < 0)
        return -1;
    *camera = cam ? "1" : "0";
    *mic = m ? "1" : "0";
    return 0;
}

static void on_join(req_t *r)
{
    const char *room, *camera, *mic;
    if (req_room(r, &room) < 0 || req_av(r, &camera, &mic) < 0)
        return;
    conn_t *c = signed_in(r);
    if (!c)
        return;
    char cap[16], ttl[32];
    snprintf(cap, sizeof cap, "%lld", config_get()->room_max_participants);
    const char *args[] = {room, conn_user(c), conn_device(c), camera, mic, cap, ttl_ms(ttl, sizeof ttl)};
    run_then(r, "room_join", room, after_join, 7, args);
}

static void on_update(req_t *r)
{
    const char *room, *camera, *mic;
    if (req_room(r, &room) < 0 || req_av(r, &camera, &mic) < 0)
        return;
    conn_t *c = signed_in(r);
    if (!c)
        return;
    const char *args[] = {room, conn_user(c), conn_device(c), camera, mic};
    feature_eval_answer(r, "room_update", 0, 5, args);
}

static void on_leave(req_t *r)
{
    const char *room;
    if (req_room(r, &room) < 0)
        return;
    conn_t *c = signed_in(r);
    if (!c)
        return;
    const char *args[] = {room, conn_device(c), "0"};
    run_then(r, "room_leave", room, after_leave, 3, args);
}

static void on_signal(req_t *r)
{
    const char *room, *to;
    if (req_room(r, &room) < 0 || req_str(r, "to", 1, 96, 1, &to) < 0)
        return;
    json_t *data = json_object_get(req_json(r), "data");
    if (!json_is_object(data)) {
        req_error_ex(r, E_BAD_REQUEST, "data", 0, "'data' must be an object (an SDP description or an ICE candidate)");
        return;
    }
    conn_t *c = signed_in(r);
    if (!c)
        return;
    size_t len;
    char head[256];
    snprintf(head, sizeof head, "{\"type\":\"room.signal\",\"room\":\"%s\",\"from\":\"%s\",\"user\":\"%s\"", room,
             conn_device(c), conn_user(c));
    char *text = feature_event_with_data(r, head, data, &len);
    if (!text) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    if (part_find(conn_id(c), room) && roster_has(room, to) && strcmp(to, conn_device(c)) != 0) {
        /* Fast path: the sender is in the room (this node admitted it) and the target is in its roster. */
        bus_direct("room", room, to, text, len);
        free(text);
        req_ok(r, NULL);
        return;
    }
    const char *args[] = {room, conn_user(c), conn_device(c), to, text};
    feature_eval_answer(r, "room_signal", 0, 5, args);
    free(text);
}

static const handler_t handlers[] = {
    {"room.list", on_list, H_RL_READ},
    {"room.create", on_create, H_RL_READ},
    {"room.join", on_join, H_RL_SIGNAL},
    {"room.update", on_update, H_RL_SIGNAL},
    {"room.leave", on_leave, H_RL_SIGNAL},
    {"room.signal", on_signal, H_RL_SIGNAL | H_PASS_DATA},
    {NULL, NULL, 0},
};

static int rooms_start(uv_loop_t *loop);
static void rooms_stop(void);
static void rooms_conn_gone(conn_t *c);

const module_t rooms_module = {
    .name = "rooms",
    .handlers = handlers,
    .start = rooms_start,
    .stop = rooms_stop,
    .conn_gone = rooms_conn_gone,
};
