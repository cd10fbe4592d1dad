/* presence.c — see presence.h. */
#include "presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "dispatch.h"
#include "log.h"
#include "msg.h"
#include "strmap.h"

#define REFRESH_BATCH 300  /* devices per heartbeat script call: bounded work per Redis call */
#define SWEEP_LIMIT "500"

static uv_timer_t heartbeat, sweeper;
static int started;

static char *ttl_ms_text(char *buf, size_t n)
{
    snprintf(buf, n, "%lld", config_get()->presence_ttl * 1000);
    return buf;
}

void presence_circle_counts(size_t n, const char *const *circle_ids, store_cb cb, void *priv)
{
    store_fcall("presence_circle_counts", cb, priv, 0, (int)n, (const char **)circle_ids);
}

void presence_users_status(size_t n, const char *const *user_ids, store_cb cb, void *priv)
{
    store_fcall("presence_users_status", cb, priv, 0, (int)n, (const char **)user_ids);
}

void presence_set_device(conn_t *c, const char *status)
{
    char ttl[32];
    if (!conn_user(c))
        return;
    conn_set_status(c, status);
    const char *args[] = {conn_user(c), conn_device(c), status, ttl_ms_text(ttl, sizeof ttl)};
    store_fcall("presence_set", NULL, NULL, 0, 4, args);
}

void presence_media(conn_t *c, int on)
{
    if (!conn_user(c))
        return;
    if (on) {
        if (conn_media_ref(c, 1) == 1) {
            snprintf(conn_media_saved(c), 16, "%s", strcmp(conn_status(c), "in_call") ? conn_status(c) : "online");
            presence_set_device(c, "in_call");
        }
    } else if (conn_media_ref(c, 0) > 0 && conn_media_ref(c, -1) == 0) {
        presence_set_device(c, conn_media_saved(c)[0] ? conn_media_saved(c) : "online");
    }
}

void presence_device_up(conn_t *c) { presence_set_device(c, conn_status(c)[0] ? conn_status(c) : "online"); }

static void presence_device_gone(conn_t *c)
{
    if (!conn_user(c))
        return;
    const char *args[] = {conn_user(c), conn_device(c)};
    store_fcall("presence_gone", NULL, NULL, 0, 2, args);
}

/* ---------------- presence.set ---------------- */

static void set_done(const store_reply_t *rep, void *priv)
{
    req_t *r = priv;
    if (!store_ok(rep) || store_type(rep) != STORE_STR) {
        req_store_error(r, rep);
        return;
    }
    req_ok(r, json_pack("{s:s}", "combined", store_str(rep, NULL)));
}

static void on_presence_set(req_t *r)
{
    const char *status;
    if (req_str(r, "status", 1, 16, 1, &status) < 0)
        return;
    if (strcmp(status, "online") && strcmp(status, "away") && strcmp(status, "busy")) {
        req_error_ex(r, E_BAD_REQUEST, "status", 0, "'status' must be online, away or busy");
        return;
    }
    conn_t *c = conn_find(req_conn(r));
    if (!c || !conn_user(c)) {
        req_error(r, E_UNAUTHORIZED, "sign in first");
        return;
    }
    if (conn_media_ref(c, 0) > 0) {
        /* In a call or a room others keep seeing in_call; the chosen status is what returns afterwards. */
        snprintf(conn_media_saved(c), 16, "%s", status);
        status = "in_call";
    }
    conn_set_status(c, status);
    char ttl[32];
    const char *args[] = {conn_user(c), conn_device(c), status, ttl_ms_text(ttl, sizeof ttl)};
    store_fcall("presence_set", set_done, r, 0, 4, args);
}

static const handler_t handlers[] = {
    {"presence.set", on_presence_set, H_RL_SIGNAL},
    {NULL, NULL, 0},
};

static int presence_start(uv_loop_t *loop);
static void presence_stop(void);
static void presence_device_gone(conn_t *c);

const module_t presence_module = {
    .name = "presence",
    .handlers = handlers,
    .start = presence_start,
    .stop = presence_stop,
    .conn_gone = presence_device_gone,
};

/* ---------------- coalescing presence bursts ---------------- */

/* A sign-in storm (a school's staff arriving at 8:00, a node restart resuming everyone) makes one presence
 * event per user per circle; each goes to every member connected here. Events arriving within
 * presence-coalesce-ms are held and delivered together at the end of the window, a user's later status
 * replacing its earlier one (who went online and away again is announced once, as away). Delivered
 * together, they reach each connection in one write instead of one wakeup each. */
typedef struct held {
    struct held *next;
    char key[80];   /* "<circle>/<user>": one held event per user and circle */
    char circle[40];
    size_t len;
    char *payload;
} held_t;

static strmap_t *held_by_key;
static held_t *held_head, **held_tail = &held_head;
static uv_timer_t coalesce_timer;
static int coalescing;

static void coalesce_flush(uv_timer_t *t)
{
    (void)t;
    held_t *h = held_head;
    held_head = NULL;
    held_tail = &held_head;
    while (h) {
        held_t *next = h->next;
        strmap_del(held_by_key, h->key);
        bus_deliver_circle(h->circle, h->payload, h->len);
        free(h->payload);
        free(h);
        h = next;
    }
}

/* The user id of a presence event: the 32 hex characters after "user":" (as the script writes it). */
static int event_user(const char *payload, size_t len, char out[33])
{
    const char *p = memmem(payload, len, "\"user\":\"", 8);
    if (!p || (size_t)(payload + len - (p + 8)) < 33 || p[8 + 32] != '"')
        return -1;
    memcpy(out, p + 8, 32);
    out[32] = '\0';
    return 0;
}

static int coalesce(const char *circle, const char *payload, size_t len)
{
    char uid[33];
    long long window = config_get()->presence_coalesce_ms;
    if (!coalescing || window <= 0 || strlen(circle) >= sizeof ((held_t *)0)->circle || event_user(payload, len, uid) < 0)
        return 0;
    char key[80];
    snprintf(key, sizeof key, "%s/%s", circle, uid);
    char *copy = malloc(len);
    if (!copy)
        return 0;
    memcpy(copy, payload, len);
    held_t *h = strmap_get(held_by_key, key);
    if (h) { /* a newer status of the same user: it replaces the held one, keeping its place */
        free(h->payload);
        h->payload = copy;
        h->len = len;
        return 1;
    }
    if (!(h = calloc(1, sizeof *h)) || strmap_put(held_by_key, key, h) < 0) {
        free(h);
        free(copy);
        return 0;
    }
    snprintf(h->key, sizeof h->key, "%s", key);
    snprintf(h->circle, sizeof h->circle, "%s", circle);
    h->payload = copy;
    h->len = len;
    *held_tail = h;
    held_tail = &h->next;
    if (!uv_is_active((uv_handle_t *)&coalesce_timer))
        uv_timer_start(&coalesce_timer, coalesce_flush, (uint64_t)window, 0);
    return 1;
}

/* ---------------- heartbeat and sweep ---------------- */

typedef struct {
    const char **args;
    int n;  /* args used, including ARGV[1] (ttl) */
} batch_t;

static void batch_flush(batch_t *b)
{
    if (b->n > 1)
        store_fcall("presence_refresh", NULL, NULL, 0, b->n, b->args);
    b->n = 1;
}

static void batch_add(conn_t *c, void *arg)
{
    batch_t *b = arg;
    if (!conn_user(c))
        return;
    b->args[b->n++] = conn_user(c);
    b->args[b->n++] = conn_device(c);
    b->args[b->n++] = conn_status(c)[0] ? conn_status(c) : "online";
    if (b->n >= 1 + 3 * REFRESH_BATCH)
        batch_flush(b);
}

static void refresh_all(void)
{
    static const char *args[1 + 3 * REFRESH_BATCH];
    char ttl[32];
    args[0] = ttl_ms_text(ttl, sizeof ttl);
    batch_t b = {args, 1};
    conn_foreach(NULL, batch_add, &b); /* store_fcall copies args: safe to reuse the array */
    batch_flush(&b);
}

static void heartbeat_fire(uv_timer_t *t)
{
    (void)t;
    if (store_is_up())
        refresh_all();
}

static void sweep_done(const store_reply_t *rep, void *priv)
{
    (void)priv;
    if (rep && store_type(rep) == STORE_INT && store_int(rep) > 0)
        log_info("presence: swept %lld expired devices", store_int(rep));
}

static void sweep_fire(uv_timer_t *t)
{
    (void)t;
    if (!store_is_up())
        return;
    const char *args[] = {SWEEP_LIMIT};
    store_fcall("presence_sweep", sweep_done, NULL, 0, 1, args);
}

void presence_on_store_up(void)
{
    if (started)
        refresh_all();
}

static int presence_start(uv_loop_t *loop)
{
    const signal_config_t *cfg = config_get();
    uint64_t every = (uint64_t)cfg->presence_ttl * 1000 / 3;
    uv_timer_init(loop, &heartbeat);
    uv_timer_init(loop, &sweeper);
    uv_timer_start(&heartbeat, heartbeat_fire, every, every);
    uv_timer_start(&sweeper, sweep_fire, (uint64_t)cfg->presence_sweep_interval, (uint64_t)cfg->presence_sweep_interval);
    uv_timer_init(loop, &coalesce_timer);
    if ((held_by_key = strmap_new()) && bus_intercept_circle("presence", coalesce) == 0)
        coalescing = 1;
    started = 1;
    return 0;
}

static void presence_stop(void)
{
    if (!started)
        return;
    started = 0;
    uv_close((uv_handle_t *)&heartbeat, NULL);
    uv_close((uv_handle_t *)&sweeper, NULL);
    coalescing = 0;
    bus_intercept_circle("presence", NULL);
    coalesce_flush(NULL); /* the connections are gone: this frees what is held */
    uv_close((uv_handle_t *)&coalesce_timer, NULL);
    strmap_free(held_by_key);
    held_by_key = NULL;
}
