/* rooms.c — see rooms.h. */
#include "rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "feature.h"
#include "log.h"
#include "msg.h"
#include "presence.h"
#include "store.h"

#define SWEEP_MS 1000
#define SWEEP_ROOMS "200" /* rooms looked at per sweep: bounded work per Redis call */

/* ---------------- this node's participants ---------------- */

typedef struct part {
    struct part *next;
    uint64_t conn;
    char room[FEATURE_ID_LEN + 2]; /* "s" suffix: a standing room made by room.create */
} part_t;

static part_t *parts;
static uv_timer_t refresher, sweeper;
static int started;

static char *ttl_ms(char *buf, size_t n)
{
    snprintf(buf, n, "%lld", config_get()->room_participant_ttl * 1000);
    return buf;
}

static part_t *part_find(uint64_t conn, const char *room)
{
    for (part_t *p = parts; p; p = p->next)
        if (p->conn == conn && (!room || strcmp(p->room, room) == 0))
            return p;
    return NULL;
}

static void part_add(conn_t *c, const char *room)
{
    if (part_find(conn_id(c), room))
        return;
    part_t *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->conn = conn_id(c);
    snprintf(p->room, sizeof p->room, "%s", room);
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
    if (c)
        presence_media(c, 0);
    free(p);
}

void rooms_conn_gone(conn_t *c)
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
        conn_t *c = conn_find(p->conn);
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

int rooms_start(uv_loop_t *loop)
{
    uint64_t every = (uint64_t)config_get()->room_participant_ttl * 1000 / 3;
    uv_timer_init(loop, &refresher);
    uv_timer_init(loop, &sweeper);
    uv_timer_start(&refresher, refresh_fire, every, every);
    uv_timer_start(&sweeper, sweep_fire, SWEEP_MS, SWEEP_MS);
    started = 1;
    return 0;
}

void rooms_stop(void)
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
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:O}", "type", "room.signal", "room", room, "from", conn_device(c),
                           "user", conn_user(c), "data", data);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!text) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    const char *args[] = {room, conn_user(c), conn_device(c), to, text};
    feature_eval_answer(r, "room_signal", 0, 5, args);
    free(text);
}

const handler_t rooms_handlers[] = {
    {"room.list", on_list, 0},
    {"room.create", on_create, 0},
    {"room.join", on_join, H_RL_SIGNAL},
    {"room.update", on_update, H_RL_SIGNAL},
    {"room.leave", on_leave, H_RL_SIGNAL},
    {"room.signal", on_signal, H_RL_SIGNAL},
    {NULL, NULL, 0},
};
