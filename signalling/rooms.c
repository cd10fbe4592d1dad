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
#include "sfu_link.h"
#include "strmap.h"

#define SWEEP_MS 1000
#define SWEEP_ROOMS "200" /* rooms looked at per sweep: bounded work per Redis call */

/* ---------------- this node's participants ---------------- */

typedef struct part {
    struct part *next;    /* every participation on this node (the refresh walks them) */
    connlist_link_t link; /* the same connection's other rooms; link.conn is the connection */
    char room[FEATURE_ID_LEN + 2]; /* "s" suffix: a standing room made by room.create */
    char sfu[68];         /* the SFU serving this participant's media ("" : none yet, or lost) */
    int placing;          /* offers of this participant waiting for their placement */
} part_t;

static part_t *parts;
static connlist_t by_conn; /* O(1) on the signal path */
static uv_timer_t refresher, sweeper, sfu_checker;
static int started, link_started;

/* The media section (below) as the module's life cycle uses it. */
static void sfu_leave(part_t *p, conn_t *c);
static void on_sfu_event(const json_t *msg);
static void on_room_closed(const char *payload, size_t len);
static void on_room_removed(const char *payload, size_t len);
static void sfu_check_fire(uv_timer_t *t);
static int media_sfu(void);

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
    struct {
        char dev[96];
        char user[40]; /* for room.speaker's user */
    } at[];
} roster_t;

static strmap_t *rosters; /* room id → roster_t* */

static void roster_set(const char *room, const json_t *participants)
{
    if (!rosters && !(rosters = strmap_new()))
        return;
    size_t n = json_array_size(participants);
    roster_t *old = strmap_get(rosters, room), *r = NULL;
    if (n > 0 && (old || strmap_count(rosters) < ROSTERS_MAX) && (r = malloc(sizeof *r + n * sizeof r->at[0]))) {
        r->n = 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *p = json_array_get(participants, i);
            const char *d = json_string_value(json_object_get(p, "device"));
            const char *u = json_string_value(json_object_get(json_object_get(p, "user"), "id"));
            if (d && strlen(d) < sizeof r->at[0].dev) {
                memcpy(r->at[r->n].dev, d, strlen(d) + 1);
                snprintf(r->at[r->n++].user, sizeof r->at[0].user, "%s", u ? u : "");
            }
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

/* The user of a device in a room's roster, or NULL if the device is not in it. */
static const char *roster_user(const char *room, const char *device)
{
    roster_t *r = rosters ? strmap_get(rosters, room) : NULL;
    for (size_t i = 0; r && i < r->n; i++)
        if (strcmp(r->at[i].dev, device) == 0)
            return r->at[i].user;
    return NULL;
}

static int roster_has(const char *room, const char *device) { return roster_user(room, device) != NULL; }

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
        sfu_leave(p, c);
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
    bus_observe("room.removed", on_room_removed);
    bus_direct_register("room", bus_deliver_if_signed_in); /* the sender's node checked both ends */
    started = 1;
    if (!media_sfu())
        return 0;
    const signal_config_t *cfg = config_get();
    if (sfu_link_start(loop, cfg->node_id, cfg->sfu_request_timeout, on_sfu_event) < 0) {
        log_error("rooms: cannot open the link to the SFUs (node id too long?)");
        return -1;
    }
    link_started = 1;
    uv_timer_init(loop, &sfu_checker);
    uv_timer_start(&sfu_checker, sfu_check_fire, (uint64_t)cfg->sfu_check_interval, (uint64_t)cfg->sfu_check_interval);
    bus_observe("room.closed", on_room_closed);
    return 0;
}

static void rooms_stop(void)
{
    if (!started)
        return;
    started = 0;
    uv_close((uv_handle_t *)&refresher, NULL);
    uv_close((uv_handle_t *)&sweeper, NULL);
    if (link_started) {
        link_started = 0;
        uv_close((uv_handle_t *)&sfu_checker, NULL);
        sfu_link_stop(); /* requests still waiting are answered unavailable */
    }
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
    if (p) {
        sfu_leave(p, c);
        part_remove(p, c);
    }
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
    const char *args[] = {room, conn_user(c), conn_device(c), camera, mic, cap, ttl_ms(ttl, sizeof ttl),
                          config_get()->room_media};
    run_then(r, "room_join", room, after_join, 8, args);
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


/* ---------------- media through the SFU (ARCHITECTURE.md, "Group media") ---------------- */

#define PLACEMENT_TTL_MS "86400000" /* room:<rid>:sfu outlives a day without any placement */
#define TRACKS_MAX 8                /* m-lines a participant may publish in one offer */
#define MID_MAX 32


static int media_sfu(void) { return strcmp(config_get()->room_media, "sfu") == 0; }

/* Sends ev (stolen) to device if it is on this node and still in room. */
static void to_participant(const char *device, const char *room, json_t *ev)
{
    conn_t *c = device ? conn_find_device(device) : NULL;
    if (c && conn_user(c) && part_find(conn_id(c), room))
        conn_send_json(c, ev);
    json_decref(ev);
}

static void send_reset(conn_t *c, const char *room, const char *reason)
{
    json_t *ev = json_pack("{s:s, s:s, s:s}", "type", "room.media.reset", "room", room, "reason", reason);
    conn_send_json(c, ev);
    json_decref(ev);
}

static void sfu_command(const char *sfu, const char *op, const char *room, const char *pid)
{
    json_t *cmd = pid ? json_pack("{s:s, s:s, s:s}", "op", op, "room", room, "pid", pid)
                      : json_pack("{s:s, s:s}", "op", op, "room", room);
    sfu_link_send(sfu, cmd);
    json_decref(cmd);
}

/* The participant p of connection c leaves its SFU (room.leave, connection closed). */
static void sfu_leave(part_t *p, conn_t *c)
{
    if (p->sfu[0] && c)
        sfu_command(p->sfu, "leave", p->room, conn_device(c));
    p->sfu[0] = 0;
}

/* Places room on an SFU (room_place_sfu); cb gets the SFU id or an error (NULL cb: fire and forget). */
static void place(const char *room, store_cb cb, void *priv)
{
    char key[FEATURE_ID_LEN + 16];
    snprintf(key, sizeof key, "room:%s:sfu", room);
    const char *args[] = {key, "sfu:load", PLACEMENT_TTL_MS};
    store_fcall("room_place_sfu", cb, priv, 2, 1, args);
}

/* A room.media request on its way to the SFU: r is answered by exactly one of the steps below. */
typedef struct {
    req_t *r;
    uint64_t conn;
    char room[FEATURE_ID_LEN + 2];
    char sfu[68]; /* where the command went */
    json_t *cmd;  /* the command to send once placed */
    int expects;  /* 1: a request (offer, answer) answered by the SFU; 0: sent and answered ok (candidate) */
    int placing;  /* counted in the participant's placing */
} media_job_t;

static void job_free(media_job_t *j)
{
    json_decref(j->cmd);
    free(j);
}

/* The SFU's error code as a protocol code (static strings: metrics keep them). */
static const char *const sfu_codes[] = {E_BAD_SDP, E_GLARE, E_NOT_FOUND, E_ROOM_FULL, E_UNAVAILABLE, E_BAD_REQUEST};

/* The SFU's error code as a protocol code (static strings: metrics keep them); NULL if not one of them. */
static const char *sfu_code(const char *code)
{
    for (size_t i = 0; code && i < sizeof sfu_codes / sizeof *sfu_codes; i++)
        if (strcmp(code, sfu_codes[i]) == 0)
            return sfu_codes[i];
    return NULL;
}

static void on_sfu_reply(const json_t *reply, void *priv)
{
    media_job_t *j = priv;
    const char *op = json_string_value(json_object_get(reply, "op"));
    if (!reply || !op) {
        /* A slow SFU may still act on an offer after we gave up: undo it, so that the client's next
         * offer (on a new peer connection) starts from nothing there. */
        const char *cmd_op = json_string_value(json_object_get(j->cmd, "op"));
        if (cmd_op && strcmp(cmd_op, "offer") == 0 && j->sfu[0])
            sfu_command(j->sfu, "leave", j->room, json_string_value(json_object_get(j->cmd, "pid")));
        req_error(j->r, E_UNAVAILABLE, "the media server did not answer; try again");
    } else if (strcmp(op, "error") == 0) {
        const char *code = sfu_code(json_string_value(json_object_get(reply, "code")));
        const char *message = json_string_value(json_object_get(reply, "message"));
        if (!code)
            log_warn("rooms: the SFU answered an unknown error code for room %s", j->room);
        req_error(j->r, code ? code : E_INTERNAL, "%s", message ? message : "the media server refused it");
    } else if (strcmp(op, "answer") == 0 && json_is_string(json_object_get(reply, "sdp"))) {
        req_ok(j->r, json_pack("{s:O}", "sdp", json_object_get(reply, "sdp")));
    } else if (strcmp(op, "ok") == 0) {
        req_ok(j->r, NULL);
    } else {
        req_error(j->r, E_INTERNAL, "the media server answered something unexpected");
    }
    job_free(j);
}

/* The room is placed (or not): the job's command goes to its SFU. */
static void on_placed(const store_reply_t *rep, void *priv)
{
    media_job_t *j = priv;
    conn_t *c = conn_find(j->conn);
    part_t *p = c ? part_find(j->conn, j->room) : NULL;
    if (p && j->placing)
        p->placing--;
    const char *sfu = store_ok(rep) ? store_str(rep, NULL) : NULL;
    if (!store_ok(rep) || !sfu) {
        req_store_error(j->r, rep); /* "unavailable: no media server …", or Redis down */
        job_free(j);
        return;
    }
    if (!p) { /* left the room meanwhile */
        req_error(j->r, E_NOT_FOUND, "you are not in this room");
        job_free(j);
        return;
    }
    if (!sfu_link_id_valid(sfu)) {
        log_warn("rooms: room %s is placed on an SFU with an invalid id", j->room);
        req_error(j->r, E_UNAVAILABLE, "no media server is available for this room");
        job_free(j);
        return;
    }
    snprintf(p->sfu, sizeof p->sfu, "%s", sfu);
    snprintf(j->sfu, sizeof j->sfu, "%s", sfu);
    if (j->expects) {
        sfu_link_request(sfu, j->cmd, on_sfu_reply, j);
        return;
    }
    sfu_link_send(sfu, j->cmd);
    req_ok(j->r, NULL);
    job_free(j);
}

/* Sends the job's command: an offer is always placed first (that is when a dead or draining SFU is left
 * for another); other commands go straight to the participant's SFU when it is known and no offer is
 * being placed — else they queue behind the offer's placement (one Redis connection answers in order,
 * so a candidate never overtakes its offer). */
static void media_send(media_job_t *j, part_t *p, int is_offer)
{
    if (is_offer || !p->sfu[0] || p->placing) {
        j->placing = 1;
        p->placing++;
        place(p->room, on_placed, j);
        return;
    }
    snprintf(j->sfu, sizeof j->sfu, "%s", p->sfu);
    if (j->expects) {
        sfu_link_request(p->sfu, j->cmd, on_sfu_reply, j);
        return;
    }
    sfu_link_send(p->sfu, j->cmd);
    req_ok(j->r, NULL);
    job_free(j);
}

/* What every room.media request checks first: room-media sfu, the room field, a signed-in connection that
 * is in the room here. Answers r and returns NULL when one fails. */
static part_t *media_part(req_t *r, const char **room, conn_t **cp)
{
    if (!media_sfu()) {
        req_error(r, E_BAD_REQUEST, "rooms on this server are a mesh (room-media mesh): use room.signal");
        return NULL;
    }
    if (req_room(r, room) < 0)
        return NULL;
    conn_t *c = signed_in(r);
    if (!c)
        return NULL;
    part_t *p = part_find(conn_id(c), *room);
    if (!p) {
        req_error(r, E_NOT_FOUND, "you are not in this room: room.join first");
        return NULL;
    }
    *cp = c;
    return p;
}

/* The sdp field: a non-empty string of at most ROOM_SDP_MAX_BYTES bytes (too_large beyond). Borrowed. */
static const char *req_sdp(req_t *r)
{
    json_t *v = json_object_get(req_json(r), "sdp");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        req_error_ex(r, E_BAD_REQUEST, "sdp", 0, "'sdp' must be a non-empty string (a session description)");
        return NULL;
    }
    if (json_string_length(v) > ROOM_SDP_MAX_BYTES) {
        req_error_ex(r, E_TOO_LARGE, "sdp", 0, "'sdp' is longer than %d bytes", ROOM_SDP_MAX_BYTES);
        return NULL;
    }
    return json_string_value(v);
}

/* tracks: {mid: "camera"|"mic"|"screen"}, 1 to TRACKS_MAX of them. Borrowed. */
static json_t *req_tracks(req_t *r)
{
    json_t *t = json_object_get(req_json(r), "tracks");
    const char *mid;
    json_t *kind;
    int ok = json_is_object(t) && json_object_size(t) >= 1 && json_object_size(t) <= TRACKS_MAX;
    json_object_foreach(ok ? t : NULL, mid, kind)
    {
        const char *k = json_string_value(kind);
        if (!*mid || strlen(mid) > MID_MAX || !k || (strcmp(k, "camera") && strcmp(k, "mic") && strcmp(k, "screen")))
            ok = 0;
    }
    if (!ok)
        req_error_ex(r, E_BAD_REQUEST, "tracks", 0,
                     "'tracks' must map each sent m-line's mid (1-%d characters) to camera, mic or screen (1-%d of them)",
                     MID_MAX, TRACKS_MAX);
    return ok ? t : NULL;
}

static media_job_t *job_new(req_t *r, conn_t *c, const char *room, json_t *cmd, int expects)
{
    media_job_t *j = cmd ? calloc(1, sizeof *j) : NULL;
    if (!j) {
        json_decref(cmd);
        req_error(r, E_INTERNAL, "out of memory");
        return NULL;
    }
    j->r = r;
    j->conn = conn_id(c);
    snprintf(j->room, sizeof j->room, "%s", room);
    j->cmd = cmd;
    j->expects = expects;
    return j;
}

static void on_media_offer(req_t *r)
{
    const char *room, *sdp;
    conn_t *c;
    json_t *tracks;
    part_t *p = media_part(r, &room, &c);
    if (!p || !(sdp = req_sdp(r)) || !(tracks = req_tracks(r)))
        return;
    json_t *cmd = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "op", "offer", "room", room, "pid", conn_device(c),
                            "user", conn_user(c), "sdp", sdp, "tracks", tracks);
    media_job_t *j = job_new(r, c, room, cmd, 1);
    if (j)
        media_send(j, p, 1);
}

static void on_media_answer(req_t *r)
{
    const char *room, *sdp;
    conn_t *c;
    part_t *p = media_part(r, &room, &c);
    if (!p || !(sdp = req_sdp(r)))
        return;
    json_t *cmd = json_pack("{s:s, s:s, s:s, s:s}", "op", "answer", "room", room, "pid", conn_device(c), "sdp", sdp);
    media_job_t *j = job_new(r, c, room, cmd, 1);
    if (j)
        media_send(j, p, 0);
}

static void on_media_candidate(req_t *r)
{
    const char *room, *mid, *cand;
    conn_t *c;
    part_t *p = media_part(r, &room, &c);
    if (!p || req_str(r, "mid", 0, MID_MAX, 1, &mid) < 0 || req_str(r, "candidate", 0, 2048, 1, &cand) < 0)
        return;
    json_t *cmd = json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", "candidate", "room", room, "pid", conn_device(c),
                            "mid", mid, "candidate", cand);
    media_job_t *j = job_new(r, c, room, cmd, 0);
    if (j)
        media_send(j, p, 0);
}

/* room.media.view {room, tiles:[{publisher, width, visible}]}: what this client shows of each publisher's
 * camera (issue 13); the SFU picks the simulcast layer from it and sends nothing to hidden tiles. */
#define VIEW_MAX_TILES 64
static void on_media_view(req_t *r)
{
    const char *room;
    conn_t *c;
    part_t *p = media_part(r, &room, &c);
    if (!p)
        return;
    json_t *tiles = json_object_get(req_json(r), "tiles");
    if (!json_is_array(tiles) || json_array_size(tiles) > VIEW_MAX_TILES) {
        req_error_ex(r, E_BAD_REQUEST, "tiles", -1, "tiles must be an array of at most %d", VIEW_MAX_TILES);
        return;
    }
    json_t *out = json_array(), *t;
    size_t i;
    json_array_foreach(tiles, i, t)
    {
        json_t *pub = json_object_get(t, "publisher"), *w = json_object_get(t, "width"), *vis = json_object_get(t, "visible");
        if (!json_is_string(pub) || json_string_length(pub) == 0 || json_string_length(pub) > 64 || !json_is_integer(w) ||
            json_integer_value(w) < 0 || json_integer_value(w) > 16384 || !json_is_boolean(vis)) {
            json_decref(out);
            req_error_ex(r, E_BAD_REQUEST, "tiles", -1, "each tile needs publisher (a device), width (0-16384) and visible");
            return;
        }
        json_array_append_new(out, json_pack("{s:O, s:O, s:O}", "publisher", pub, "width", w, "visible", vis));
    }
    json_t *cmd = json_pack("{s:s, s:s, s:s, s:o}", "op", "view", "room", room, "pid", conn_device(c), "tiles", out);
    media_job_t *j = job_new(r, c, room, cmd, 0);
    if (j)
        media_send(j, p, 0);
}

/* ---- what the SFUs send this node (sfu_link's events) ---- */

/* op offer: the SFU renegotiates; tracks {mid:{pid,user,kind}} become {mid:{device,user,kind}}. */
static void sfu_offer(const char *room, const char *pid, const json_t *msg)
{
    json_t *tracks = json_object(), *t;
    const char *mid;
    json_object_foreach(json_object_get(msg, "tracks"), mid, t)
    {
        json_t *one = json_pack("{s:O?, s:O?, s:O?}", "device", json_object_get(t, "pid"), "user",
                                json_object_get(t, "user"), "kind", json_object_get(t, "kind"));
        if (one)
            json_object_set_new(tracks, mid, one);
    }
    json_t *ev = json_pack("{s:s, s:s, s:O?, s:o}", "type", "room.media.offer", "room", room, "sdp",
                           json_object_get(msg, "sdp"), "tracks", tracks);
    to_participant(pid, room, ev);
}

/* op speaker: the active speaker changed; `to` names this node's participants in the room. */
static void sfu_speaker(const char *room, const char *pid, const json_t *msg)
{
    const char *user = roster_user(room, pid);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(msg, "to"), i, d)
    {
        json_t *ev = json_pack("{s:s, s:s, s:s, s:s?}", "type", "room.speaker", "room", room, "device", pid, "user",
                               user && *user ? user : NULL);
        to_participant(json_string_value(d), room, ev);
    }
}

static void reset_device(const char *device, const char *room, const char *reason)
{
    conn_t *c = device ? conn_find_device(device) : NULL;
    part_t *p = c && conn_user(c) ? part_find(conn_id(c), room) : NULL;
    if (p)
        send_reset(c, room, reason);
}

static void on_sfu_event(const json_t *msg)
{
    const char *op = json_string_value(json_object_get(msg, "op"));
    const char *room = json_string_value(json_object_get(msg, "room"));
    const char *pid = json_string_value(json_object_get(msg, "pid"));
    if (!room || strlen(room) > FEATURE_ID_LEN + 1) {
        log_warn("rooms: an SFU message (%s) without a valid room was dropped", op);
        return;
    }
    if (strcmp(op, "offer") == 0 && pid) {
        sfu_offer(room, pid, msg);
    } else if (strcmp(op, "candidate") == 0 && pid) {
        json_t *ev = json_pack("{s:s, s:s, s:O?, s:O?}", "type", "room.media.candidate", "room", room, "mid",
                               json_object_get(msg, "mid"), "candidate", json_object_get(msg, "candidate"));
        to_participant(pid, room, ev);
    } else if (strcmp(op, "speaker") == 0 && pid) {
        sfu_speaker(room, pid, msg);
    } else if (strcmp(op, "layers") == 0 && pid && json_is_array(json_object_get(msg, "paused"))) {
        json_t *ev = json_pack("{s:s, s:s, s:O?, s:O}", "type", "room.media.layers", "room", room, "label",
                               json_object_get(msg, "label"), "paused", json_object_get(msg, "paused"));
        to_participant(pid, room, ev);
    } else if (strcmp(op, "gone") == 0 && pid) {
        const char *reason = json_string_value(json_object_get(msg, "reason"));
        reset_device(pid, room, reason ? reason : "sfu_dropped");
    } else if (strcmp(op, "moved") == 0) {
        size_t i;
        json_t *d;
        place(room, NULL, NULL); /* the draining SFU left sfu:load: the room goes elsewhere */
        json_array_foreach(json_object_get(msg, "pids"), i, d)
            reset_device(json_string_value(d), room, "sfu_moved");
    } else {
        log_warn("rooms: an SFU message with op '%s' was dropped", op);
    }
}

/* ---- liveness of the SFUs serving this node's participants ---- */

/* Every local participant on sfu (whose sfu:alive: key is gone) starts again: the room is placed anew
 * and the client told to offer again. */
static void sfu_lost(const char *sfu)
{
    log_warn("rooms: SFU %s is gone; its participants here reconnect", sfu);
    for (part_t *p = parts; p; p = p->next) {
        if (strcmp(p->sfu, sfu) != 0)
            continue;
        p->sfu[0] = 0;
        place(p->room, NULL, NULL);
        conn_t *c = conn_find(p->link.conn);
        if (c)
            send_reset(c, p->room, "sfu_lost");
    }
}

/* SFUs whose sfu:alive: key was missing at the last check. One miss is not enough to move a room: an SFU
 * starved of CPU writes its heartbeat late, and a false alarm costs every participant a reconnection; a
 * second miss one check later (sfu-check-interval) is. */
#define SUSPECTS_MAX 16
static char suspects[SUSPECTS_MAX][68];

static int suspect_index(const char *sfu)
{
    for (int i = 0; i < SUSPECTS_MAX; i++)
        if (strcmp(suspects[i], sfu) == 0)
            return i;
    return -1;
}

static void on_alive_reply(const store_reply_t *rep, void *priv)
{
    char *sfu = priv;
    int i = suspect_index(sfu);
    if (store_ok(rep) && store_type(rep) == STORE_INT && store_int(rep) == 0) {
        if (i >= 0) {
            suspects[i][0] = 0;
            sfu_lost(sfu);
        } else if ((i = suspect_index("")) >= 0) {
            snprintf(suspects[i], sizeof suspects[i], "%s", sfu);
        } else {
            sfu_lost(sfu); /* no room to wait: act at once */
        }
    } else if (i >= 0 && store_ok(rep)) {
        suspects[i][0] = 0; /* it was only late */
    }
    free(sfu);
}

#define SFU_CHECK_MAX 64 /* distinct SFUs checked per round (a node rarely sees more than a few) */

static void sfu_check_fire(uv_timer_t *t)
{
    (void)t;
    const char *seen[SFU_CHECK_MAX];
    size_t n = 0;
    if (!store_is_up())
        return;
    for (part_t *p = parts; p && n < SFU_CHECK_MAX; p = p->next) {
        if (!p->sfu[0])
            continue;
        size_t i = 0;
        while (i < n && strcmp(seen[i], p->sfu) != 0)
            i++;
        if (i < n)
            continue;
        seen[n++] = p->sfu;
        char *copy = strdup(p->sfu);
        if (copy)
            store_cmdf(on_alive_reply, copy, "EXISTS sfu:alive:%s", copy);
    }
}

/* bus observer: a private room closed (room.closed): its SFU drops everyone in it. */
static void on_room_closed(const char *payload, size_t len)
{
    json_t *ev = json_loadb(payload, len, 0, NULL);
    const char *room = json_string_value(json_object_get(ev, "room"));
    const char *closed_on = NULL;
    for (part_t *p = parts; room && p; p = p->next) {
        if (strcmp(p->room, room) != 0 || !p->sfu[0])
            continue;
        if (!closed_on || strcmp(closed_on, p->sfu) != 0)
            sfu_command(p->sfu, "close", room, NULL);
        closed_on = p->sfu;
    }
    for (part_t *p = parts; room && p; p = p->next)
        if (strcmp(p->room, room) == 0)
            p->sfu[0] = 0;
    json_decref(ev);
}

/* bus observer: a device was taken out of a room by someone else (room.removed {room, device}: moderation.lua,
 * when a moderator removes its user from the circle). If it is a participant here, it leaves its SFU and
 * this node forgets it, as after room.leave. */
static void on_room_removed(const char *payload, size_t len)
{
    json_t *ev = json_loadb(payload, len, 0, NULL);
    const char *room = json_string_value(json_object_get(ev, "room"));
    const char *device = json_string_value(json_object_get(ev, "device"));
    conn_t *c = device ? conn_find_device(device) : NULL;
    part_t *p = c && room ? part_find(conn_id(c), room) : NULL;
    if (p) {
        sfu_leave(p, c);
        part_remove(p, c);
    }
    json_decref(ev);
}

static const handler_t handlers[] = {
    {"room.list", on_list, H_RL_READ},
    {"room.create", on_create, H_RL_READ},
    {"room.join", on_join, H_RL_SIGNAL},
    {"room.update", on_update, H_RL_SIGNAL},
    {"room.leave", on_leave, H_RL_SIGNAL},
    {"room.signal", on_signal, H_RL_SIGNAL | H_PASS_DATA},
    {"room.media.offer", on_media_offer, H_RL_SIGNAL},
    {"room.media.answer", on_media_answer, H_RL_SIGNAL},
    {"room.media.candidate", on_media_candidate, H_RL_SIGNAL},
    {"room.media.view", on_media_view, H_RL_SIGNAL},
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
