/* conn.c — see conn.h.
 *
 * Lookup by id is a hash; lookups by user and by circle walk the list of this node's connections, which
 * is bounded by max-clients and cheap next to the JSON work of an event. */
#include "conn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "log.h"
#include "presence.h"
#include "calls.h"
#include "rooms.h"
#include "ws.h"

#define NBUCKETS 4096

struct conn {
    uint64_t id;
    conn_t *hnext;             /* hash chain */
    conn_t *prev, *next;       /* list of all */
    ws_sess_t *ws;
    char peer[64];
    char device[96];
    char *user, *name;
    char status[16];
    char media_saved[16];
    int media;
    char session[72];
    char **circles;
    size_t ncircles, capcircles;
};

static conn_t *buckets[NBUCKETS];
static conn_t *all;
static size_t count;
static uint64_t next_id = 1;

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

int conn_media_ref(conn_t *c, int delta)
{
    c->media += delta;
    if (c->media < 0)
        c->media = 0;
    return c->media;
}
char *conn_media_saved(conn_t *c) { return c->media_saved; }

const char *conn_session(const conn_t *c) { return c->session; }
void conn_set_session(conn_t *c, const char *h) { snprintf(c->session, sizeof c->session, "%s", h ? h : ""); }

void conn_set_status(conn_t *c, const char *status)
{
    if (status != c->status) /* may be handed its own buffer back */
        snprintf(c->status, sizeof c->status, "%s", status);
}

conn_t *conn_new(ws_sess_t *ws, const char *peer)
{
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

static void circles_clear(conn_t *c, int unref)
{
    for (size_t i = 0; i < c->ncircles; i++) {
        if (unref) {
            char ch[160];
            snprintf(ch, sizeof ch, "ev:c:%s", c->circles[i]);
            bus_unref(ch);
        }
        free(c->circles[i]);
    }
    free(c->circles);
    c->circles = NULL;
    c->ncircles = c->capcircles = 0;
}

void conn_sign_out(conn_t *c)
{
    if (!c->user)
        return;
    calls_conn_gone(c); /* its call ends (reason disconnected), its rooms are left */
    rooms_conn_gone(c);
    presence_device_gone(c);
    char ch[160];
    snprintf(ch, sizeof ch, "ev:u:%s", c->user);
    bus_unref(ch);
    circles_clear(c, 1);
    free(c->user);
    free(c->name);
    c->user = c->name = NULL;
    c->status[0] = '\0';
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
    if (!c->user || !c->name) {
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

int conn_in_circle(const conn_t *c, const char *circle_id)
{
    for (size_t i = 0; i < c->ncircles; i++)
        if (strcmp(c->circles[i], circle_id) == 0)
            return 1;
    return 0;
}

const char *const *conn_circles(const conn_t *c, size_t *n)
{
    *n = c->ncircles;
    return (const char *const *)c->circles;
}

void conn_set_circle(conn_t *c, const char *circle_id, int member)
{
    char ch[160];
    if (!c->user || snprintf(ch, sizeof ch, "ev:c:%s", circle_id) >= (int)sizeof ch)
        return;
    for (size_t i = 0; i < c->ncircles; i++) {
        if (strcmp(c->circles[i], circle_id) != 0)
            continue;
        if (!member) {
            free(c->circles[i]);
            c->circles[i] = c->circles[--c->ncircles];
            bus_unref(ch);
        }
        return;
    }
    if (!member)
        return;
    if (c->ncircles == c->capcircles) {
        size_t cap = c->capcircles ? c->capcircles * 2 : 8;
        char **p = realloc(c->circles, cap * sizeof *p);
        if (!p)
            return;
        c->circles = p;
        c->capcircles = cap;
    }
    if (!(c->circles[c->ncircles] = strdup(circle_id)))
        return;
    c->ncircles++;
    bus_ref(ch);
}

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

void conn_foreach(const char *uid, void (*fn)(conn_t *c, void *arg), void *arg)
{
    for (conn_t *c = all, *next; c; c = next) {
        next = c->next;
        if (!uid || (c->user && strcmp(c->user, uid) == 0))
            fn(c, arg);
    }
}

void conn_free_all(void)
{
    while (all) {
        conn_t *c = all;
        unlink_conn(c);
        circles_clear(c, 0);
        free(c->user);
        free(c->name);
        free(c);
    }
}
