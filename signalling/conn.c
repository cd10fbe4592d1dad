/* conn.c — see conn.h.
 *
 * Three indexes keep every lookup on a delivery path proportional to what it finds, never to the number
 * of connections on the node:
 *   - by id: a hash of buckets (conn_find; a device id "<node>-<id>" resolves through it);
 *   - by user: uid → the user's connections here (an intrusive list through conn_t);
 *   - by circle: cid → the members connected here (a list of membership nodes, one per connection and
 *     circle, each also held in its connection's array so that sign-out unlinks it in O(1)).
 * The list of all connections remains for what must visit everyone (the presence heartbeat, shutdown).
 */
#include "conn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "module.h"
#include "strmap.h"
#include "ws.h"

#define NBUCKETS 4096

typedef struct group group_t;

/* One connection's membership of one circle: a node in the circle's list. */
typedef struct member {
    struct member *prev, *next;
    conn_t *conn;
    group_t *group;
} member_t;

/* The connections here of one user, or the members here of one circle. */
struct group {
    void *head; /* conn_t* (users) or member_t* (circles) */
    size_t n;
    char id[];
};

struct conn {
    uint64_t id;
    conn_t *hnext;             /* hash chain */
    conn_t *prev, *next;       /* list of all */
    conn_t *uprev, *unext;     /* the user's connections here */
    group_t *ugroup;           /* NULL while signed out */
    ws_sess_t *ws;
    char peer[64];
    char device[96];
    char *user, *name;
    char status[16];
    char media_saved[16];
    int media;
    char session[72];
    member_t **circles;
    size_t ncircles, capcircles;
    int inflight;              /* requests read and not answered yet */
    int paused;                /* reading paused at max-inflight */
};

static conn_t *buckets[NBUCKETS];
static conn_t *all;
static size_t count;
static uint64_t next_id = 1;
static strmap_t *by_user, *by_circle;

static conn_t **slot(uint64_t id)
{
    conn_t **p = &buckets[id % NBUCKETS];
    while (*p && (*p)->id != id)
        p = &(*p)->hnext;
    return p;
}

conn_t *conn_find(uint64_t id) { return *slot(id); }
uint64_t conn_id(const conn_t *c) { return c->id; }
const char *conn_peer(const conn_t *c) { return c->peer; }
const char *conn_user(const conn_t *c) { return c->user; }
const char *conn_user_name(const conn_t *c) { return c->name; }
const char *conn_device(const conn_t *c) { return c->device; }
size_t conn_count(void) { return count; }
const char *conn_status(const conn_t *c) { return c->status; }
ws_sess_t *conn_ws(const conn_t *c) { return c->ws; }

conn_t *conn_find_device(const char *device)
{
    /* "<node>-<id>": the node part may itself contain '-', the id is after the last one. */
    const char *dash = device ? strrchr(device, '-') : NULL;
    if (!dash || !dash[1])
        return NULL;
    char *end;
    unsigned long long id = strtoull(dash + 1, &end, 10);
    if (*end)
        return NULL;
    conn_t *c = conn_find(id);
    return c && strcmp(c->device, device) == 0 ? c : NULL;
}

int conn_media_ref(conn_t *c, int delta)
{
    c->media += delta;
    if (c->media < 0)
        c->media = 0;
    return c->media;
}
char *conn_media_saved(conn_t *c) { return c->media_saved; }

const char *conn_session(const conn_t *c) { return c->session; }
/* A signed-in connection holds a reference on its session's channel ev:s:<hash>: ending the session
 * (accounts.lua) publishes there, and so reaches every connection signed in with it, on every node. */
static void session_channel(conn_t *c, int ref)
{
    char ch[96];
    if (!c->session[0])
        return;
    snprintf(ch, sizeof ch, "ev:s:%s", c->session);
    if (ref)
        bus_ref(ch);
    else
        bus_unref(ch);
}

void conn_set_session(conn_t *c, const char *h)
{
    session_channel(c, 0);
    snprintf(c->session, sizeof c->session, "%s", h ? h : "");
    if (c->user)
        session_channel(c, 1);
    else
        c->session[0] = '\0'; /* only a signed-in connection has a session */
}

void conn_set_status(conn_t *c, const char *status)
{
    if (status != c->status) /* may be handed its own buffer back */
        snprintf(c->status, sizeof c->status, "%s", status);
}

static int indexes_ready(void)
{
    if (!by_user)
        by_user = strmap_new();
    if (!by_circle)
        by_circle = strmap_new();
    return by_user && by_circle;
}

conn_t *conn_new(ws_sess_t *ws, const char *peer)
{
    if (!indexes_ready())
        return NULL;
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = next_id++;
    c->ws = ws;
    snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "?");
    const signal_config_t *cfg = config_get();
    snprintf(c->device, sizeof c->device, "%s-%" PRIu64, cfg ? cfg->node_id : "node", c->id);
    conn_t **s = slot(c->id);
    *s = c;
    c->next = all;
    if (all)
        all->prev = c;
    all = c;
    count++;
    return c;
}

/* ---------------- groups (the by-user and by-circle indexes) ---------------- */

/* The group for id in map, created empty if absent; NULL when out of memory. */
static group_t *group_get(strmap_t *map, const char *id)
{
    group_t *g = strmap_get(map, id);
    if (g)
        return g;
    size_t n = strlen(id);
    if (!(g = calloc(1, sizeof *g + n + 1)))
        return NULL;
    memcpy(g->id, id, n + 1);
    if (strmap_put(map, id, g) < 0) {
        free(g);
        return NULL;
    }
    return g;
}

static void group_drop_if_empty(strmap_t *map, group_t *g)
{
    if (g->n == 0) {
        strmap_del(map, g->id);
        free(g);
    }
}

static int user_link(conn_t *c, const char *uid)
{
    group_t *g = group_get(by_user, uid);
    if (!g)
        return -1;
    conn_t *head = g->head;
    c->uprev = NULL;
    c->unext = head;
    if (head)
        head->uprev = c;
    g->head = c;
    g->n++;
    c->ugroup = g;
    return 0;
}

static void user_unlink(conn_t *c)
{
    group_t *g = c->ugroup;
    if (!g)
        return;
    if (c->uprev)
        c->uprev->unext = c->unext;
    else
        g->head = c->unext;
    if (c->unext)
        c->unext->uprev = c->uprev;
    c->uprev = c->unext = NULL;
    c->ugroup = NULL;
    g->n--;
    group_drop_if_empty(by_user, g);
}

static void member_unlink(member_t *m)
{
    group_t *g = m->group;
    if (m->prev)
        m->prev->next = m->next;
    else
        g->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    g->n--;
    group_drop_if_empty(by_circle, g);
    free(m);
}

/* ---------------- circles of a connection ---------------- */

static void circle_channel(char *ch, size_t cap, const char *cid) { snprintf(ch, cap, "ev:c:%s", cid); }

static void circles_clear(conn_t *c, int unref)
{
    for (size_t i = 0; i < c->ncircles; i++) {
        if (unref) {
            char ch[160];
            circle_channel(ch, sizeof ch, c->circles[i]->group->id);
            bus_unref(ch);
        }
        member_unlink(c->circles[i]);
    }
    free(c->circles);
    c->circles = NULL;
    c->ncircles = c->capcircles = 0;
}

static size_t circle_index(const conn_t *c, const char *circle_id)
{
    for (size_t i = 0; i < c->ncircles; i++)
        if (strcmp(c->circles[i]->group->id, circle_id) == 0)
            return i;
    return (size_t)-1;
}

int conn_in_circle(const conn_t *c, const char *circle_id) { return circle_index(c, circle_id) != (size_t)-1; }

size_t conn_circle_count(const conn_t *c) { return c->ncircles; }
const char *conn_circle_at(const conn_t *c, size_t i) { return i < c->ncircles ? c->circles[i]->group->id : NULL; }

static int circle_add(conn_t *c, const char *circle_id)
{
    if (c->ncircles == c->capcircles) {
        size_t cap = c->capcircles ? c->capcircles * 2 : 4;
        member_t **p = realloc(c->circles, cap * sizeof *p);
        if (!p)
            return -1;
        c->circles = p;
        c->capcircles = cap;
    }
    group_t *g = group_get(by_circle, circle_id);
    member_t *m = g ? calloc(1, sizeof *m) : NULL;
    if (!m) {
        if (g)
            group_drop_if_empty(by_circle, g);
        return -1;
    }
    m->conn = c;
    m->group = g;
    m->next = g->head;
    if (m->next)
        m->next->prev = m;
    g->head = m;
    g->n++;
    c->circles[c->ncircles++] = m;
    return 0;
}

void conn_set_circle(conn_t *c, const char *circle_id, int member)
{
    char ch[160];
    if (!c->user || strlen(circle_id) > 128)
        return;
    circle_channel(ch, sizeof ch, circle_id);
    size_t i = circle_index(c, circle_id);
    if (i != (size_t)-1) {
        if (!member) {
            member_unlink(c->circles[i]);
            c->circles[i] = c->circles[--c->ncircles];
            bus_unref(ch);
        }
        return;
    }
    if (member && circle_add(c, circle_id) == 0)
        bus_ref(ch);
}

/* ---------------- sign-in / sign-out ---------------- */

void conn_sign_out(conn_t *c)
{
    if (!c->user)
        return;
    module_conn_gone(c); /* calls end (disconnected), rooms are left, the device leaves presence */
    char ch[160];
    snprintf(ch, sizeof ch, "ev:u:%s", c->user);
    bus_unref(ch);
    circles_clear(c, 1);
    user_unlink(c);
    free(c->user);
    free(c->name);
    c->user = c->name = NULL;
    c->status[0] = '\0';
    session_channel(c, 0);
    c->session[0] = '\0';
    c->media = 0;
}

int conn_sign_in(conn_t *c, const char *uid, const char *name, const char *const *circles, size_t n)
{
    if (c->user && strcmp(c->user, uid) == 0) {
        /* Signing in again as the same user: keep the device (no offline/online flap to others). */
        for (size_t i = 0; i < n; i++)
            conn_set_circle(c, circles[i], 1);
        return 0;
    }
    conn_sign_out(c);
    c->user = strdup(uid);
    c->name = strdup(name ? name : "");
    if (!c->user || !c->name || user_link(c, uid) < 0) {
        free(c->user);
        free(c->name);
        c->user = c->name = NULL;
        return -1;
    }
    char ch[160];
    snprintf(ch, sizeof ch, "ev:u:%s", uid);
    bus_ref(ch);
    for (size_t i = 0; i < n; i++)
        conn_set_circle(c, circles[i], 1);
    conn_set_status(c, "online");
    return 0;
}

/* ---------------- lifetime ---------------- */

static void unlink_conn(conn_t *c)
{
    conn_t **s = slot(c->id);
    if (*s == c)
        *s = c->hnext;
    if (c->prev)
        c->prev->next = c->next;
    else
        all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    count--;
}

void conn_closed(conn_t *c)
{
    conn_sign_out(c);
    unlink_conn(c);
    free(c);
}

static void (*test_sink)(uint64_t id, const char *text, size_t len);
void conn_set_test_sink(void (*sink)(uint64_t id, const char *text, size_t len)) { test_sink = sink; }

void conn_send_text(conn_t *c, const char *text, size_t len)
{
    if (c->ws)
        ws_send(c->ws, text, len);
    else if (test_sink)
        test_sink(c->id, text, len);
}

void conn_send_json(conn_t *c, json_t *event)
{
    char *text = json_dumps(event, JSON_COMPACT);
    if (!text) {
        log_error("conn %" PRIu64 ": cannot encode an event", c->id);
        return;
    }
    conn_send_text(c, text, strlen(text));
    free(text);
}

/* ---------------- admission: requests in flight ---------------- */

void conn_request_started(conn_t *c)
{
    c->inflight++;
    long long cap = config_get() ? config_get()->max_inflight : 0;
    if (cap > 0 && c->inflight >= cap && !c->paused && c->ws) {
        c->paused = 1;
        ws_pause_reading(c->ws, 1);
        metrics_inflight_paused();
    }
}

void conn_request_done(conn_t *c)
{
    if (c->inflight > 0)
        c->inflight--;
    long long cap = config_get() ? config_get()->max_inflight : 0;
    if (c->paused && c->inflight < cap) {
        c->paused = 0;
        ws_pause_reading(c->ws, 0);
    }
}

int conn_inflight(const conn_t *c) { return c->inflight; }

/* ---------------- iteration ---------------- */

void conn_foreach(const char *uid, void (*fn)(conn_t *c, void *arg), void *arg)
{
    if (!uid) {
        for (conn_t *c = all, *next; c; c = next) {
            next = c->next;
            fn(c, arg);
        }
        return;
    }
    group_t *g = by_user ? strmap_get(by_user, uid) : NULL;
    for (conn_t *c = g ? g->head : NULL, *next; c; c = next) {
        next = c->unext;
        fn(c, arg);
    }
}

void conn_foreach_in_circle(const char *circle_id, void (*fn)(conn_t *c, void *arg), void *arg)
{
    group_t *g = by_circle ? strmap_get(by_circle, circle_id) : NULL;
    for (member_t *m = g ? g->head : NULL, *next; m; m = next) {
        next = m->next;
        fn(m->conn, arg);
    }
}

size_t conn_user_count(const char *uid)
{
    group_t *g = by_user && uid ? strmap_get(by_user, uid) : NULL;
    return g ? g->n : 0;
}

size_t conn_circle_members_here(const char *circle_id)
{
    group_t *g = by_circle && circle_id ? strmap_get(by_circle, circle_id) : NULL;
    return g ? g->n : 0;
}

void conn_free_all(void)
{
    while (all) {
        conn_t *c = all;
        unlink_conn(c);
        circles_clear(c, 0);
        user_unlink(c);
        free(c->user);
        free(c->name);
        free(c);
    }
    strmap_free(by_user);
    strmap_free(by_circle);
    by_user = by_circle = NULL;
}
