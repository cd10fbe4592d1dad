/* sfu_link.c — see sfu_link.h. */
#include "sfu_link.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "store.h"
#include "strmap.h"

#define CHANNEL_MAX 160

typedef struct pending {
    struct pending *prev, *next; /* in deadline order (all requests share one timeout: FIFO) */
    uint64_t tx;
    uint64_t deadline; /* uv_now, ms */
    sfu_reply_fn cb;
    void *priv;
    char key[24]; /* tx as text: the map's key */
} pending_t;

static uv_loop_t *loop;
static uv_timer_t timer;
static int started;
static long long timeout_ms;
static uint64_t next_tx = 1;
static strmap_t *by_tx;
static pending_t *oldest, *newest;
static size_t npending;
static char node_id[80];
static char to_channel[CHANNEL_MAX];
static sfu_event_fn event_fn;

int sfu_link_id_valid(const char *sfu)
{
    size_t n = sfu ? strlen(sfu) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (const char *p = sfu; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("_.:-", *p)))
            return 0;
    return 1;
}

size_t sfu_link_pending(void) { return npending; }

/* ---------------- the table of waiting requests ---------------- */

static void unlink_pending(pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        oldest = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        newest = p->prev;
    strmap_del(by_tx, p->key);
    npending--;
}

static void timer_fire(uv_timer_t *t);

/* One timer for all: armed for the oldest request's deadline. */
static void arm_timer(void)
{
    if (!started)
        return;
    if (!oldest) {
        uv_timer_stop(&timer);
        return;
    }
    uint64_t now = uv_now(loop);
    uv_timer_start(&timer, timer_fire, oldest->deadline > now ? oldest->deadline - now : 0, 0);
}

/* Takes p out of the table and calls its callback once with reply (may be NULL). */
static void complete(pending_t *p, const json_t *reply)
{
    unlink_pending(p);
    sfu_reply_fn cb = p->cb;
    void *priv = p->priv;
    free(p);
    cb(reply, priv);
}

static void timer_fire(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_now(loop);
    while (oldest && oldest->deadline <= now) {
        log_info("sfu link: request tx %" PRIu64 " had no reply within %lld ms", oldest->tx, timeout_ms);
        complete(oldest, NULL);
    }
    arm_timer();
}

/* ---------------- sending ---------------- */

static int channel_of(char *out, size_t n, const char *sfu)
{
    return sfu_link_id_valid(sfu) && snprintf(out, n, "sfu:cmd:%s", sfu) < (int)n ? 0 : -1;
}

/* PUBLISH text on sfu:cmd:<sfu>; cb gets the PUBLISH's reply (the number of receivers). */
static int publish(const char *sfu, json_t *cmd, store_cb cb, void *priv)
{
    char channel[CHANNEL_MAX];
    char *text = channel_of(channel, sizeof channel, sfu) == 0 ? json_dumps(cmd, JSON_COMPACT) : NULL;
    if (!text) {
        log_warn("sfu link: cannot send to SFU '%s'", sfu ? sfu : "");
        return -1;
    }
    const char *argv[3] = {"PUBLISH", channel, text};
    size_t argl[3] = {7, strlen(channel), strlen(text)};
    store_cmd(cb, priv, 3, argv, argl);
    free(text);
    return 0;
}

void sfu_link_send(const char *sfu, json_t *cmd)
{
    if (!started)
        return;
    publish(sfu, cmd, NULL, NULL);
}

/* The PUBLISH of a request was answered: if no SFU received it (or Redis is down), the request fails now
 * instead of at its timeout. priv: the tx (not the pending: it may be completed already). */
static void on_published(const store_reply_t *rep, void *priv)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, (uint64_t)(uintptr_t)priv);
    pending_t *p = by_tx ? strmap_get(by_tx, key) : NULL;
    if (!p || (store_ok(rep) && store_type(rep) == STORE_INT && store_int(rep) > 0))
        return;
    log_info("sfu link: request tx %s reached no SFU", key);
    complete(p, NULL);
    arm_timer();
}

void sfu_link_request(const char *sfu, json_t *cmd, sfu_reply_fn cb, void *priv)
{
    pending_t *p = started ? calloc(1, sizeof *p) : NULL;
    if (!p) {
        log_warn("sfu link: cannot send a request now (%s)", started ? "out of memory" : "not running");
        cb(NULL, priv);
        return;
    }
    p->tx = next_tx++;
    p->cb = cb;
    p->priv = priv;
    p->deadline = uv_now(loop) + (uint64_t)timeout_ms;
    snprintf(p->key, sizeof p->key, "%" PRIu64, p->tx);
    if (strmap_put(by_tx, p->key, p) < 0) {
        free(p);
        cb(NULL, priv);
        return;
    }
    p->prev = newest;
    if (newest)
        newest->next = p;
    else
        oldest = p;
    newest = p;
    npending++;
    json_object_set_new(cmd, "tx", json_integer((json_int_t)p->tx));
    json_object_set_new(cmd, "node", json_string(node_id));
    if (publish(sfu, cmd, on_published, (void *)(uintptr_t)p->tx) < 0)
        p->deadline = uv_now(loop); /* fails at the next timer run, not inside this call */
    arm_timer();
}

/* ---------------- receiving ---------------- */

static struct {
    const char *op;
    sfu_event_fn fn;
} observers[4];

int sfu_link_observe(const char *op, sfu_event_fn fn)
{
    for (size_t i = 0; i < sizeof observers / sizeof *observers; i++)
        if (!observers[i].op) {
            observers[i].op = op;
            observers[i].fn = fn;
            return 0;
        }
    return -1;
}

static sfu_event_fn observer_of(const char *op)
{
    for (size_t i = 0; i < sizeof observers / sizeof *observers && observers[i].op; i++)
        if (strcmp(observers[i].op, op) == 0)
            return observers[i].fn;
    return NULL;
}

static void on_message(const char *payload, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb(payload, len, 0, &jerr);
    const char *op = json_string_value(json_object_get(msg, "op"));
    if (!json_is_object(msg) || !op) {
        log_warn("sfu link: dropped a message on %s that is not a JSON object with an op", to_channel);
        json_decref(msg);
        return;
    }
    json_t *tx = json_object_get(msg, "tx");
    int is_reply = strcmp(op, "answer") == 0 || strcmp(op, "ok") == 0 || strcmp(op, "error") == 0;
    if (is_reply) {
        char key[24];
        pending_t *p = NULL;
        if (json_is_integer(tx) && json_integer_value(tx) > 0) {
            snprintf(key, sizeof key, "%" PRIu64, (uint64_t)json_integer_value(tx));
            p = strmap_get(by_tx, key);
        }
        if (p) {
            complete(p, msg);
            arm_timer();
        } else {
            log_debug("sfu link: a reply (%s) for no waiting request: late or not ours", op);
        }
    } else if (observer_of(op)) {
        observer_of(op)(msg);
    } else if (event_fn) {
        event_fn(msg);
    }
    json_decref(msg);
}

int sfu_link_start(uv_loop_t *l, const char *node, long long timeout, sfu_event_fn on_event)
{
    if (snprintf(node_id, sizeof node_id, "%s", node) >= (int)sizeof node_id ||
        snprintf(to_channel, sizeof to_channel, "sfu:to:%s", node) >= (int)sizeof to_channel)
        return -1;
    if (!(by_tx = strmap_new()))
        return -1;
    if (bus_channel_open(to_channel, on_message) < 0) {
        strmap_free(by_tx);
        by_tx = NULL;
        return -1;
    }
    loop = l;
    timeout_ms = timeout;
    event_fn = on_event;
    uv_timer_init(loop, &timer);
    started = 1;
    return 0;
}

void sfu_link_stop(void)
{
    if (!started)
        return;
    started = 0;
    while (oldest)
        complete(oldest, NULL);
    bus_channel_close(to_channel);
    uv_close((uv_handle_t *)&timer, NULL);
    strmap_free(by_tx);
    by_tx = NULL;
    event_fn = NULL;
}
