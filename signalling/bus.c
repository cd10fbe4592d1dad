/* bus.c — see bus.h. */
#include "bus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#define NBUCKETS 1024

typedef struct chan {
    struct chan *next;
    unsigned refs;
    char name[]; /* "ev:u:<uid>" */
} chan_t;

static chan_t *buckets[NBUCKETS];
static size_t nchannels;

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % NBUCKETS;
}

void bus_ref(const char *channel)
{
    chan_t **b = &buckets[hash(channel)];
    for (chan_t *c = *b; c; c = c->next) {
        if (strcmp(c->name, channel) == 0) {
            c->refs++;
            return;
        }
    }
    size_t n = strlen(channel);
    chan_t *c = malloc(sizeof *c + n + 1);
    if (!c) {
        log_error("bus: out of memory subscribing %s", channel);
        return;
    }
    memcpy(c->name, channel, n + 1);
    c->refs = 1;
    c->next = *b;
    *b = c;
    nchannels++;
    store_subscribe(channel);
}

void bus_unref(const char *channel)
{
    for (chan_t **p = &buckets[hash(channel)]; *p; p = &(*p)->next) {
        chan_t *c = *p;
        if (strcmp(c->name, channel) != 0)
            continue;
        if (--c->refs == 0) {
            *p = c->next;
            store_unsubscribe(channel);
            free(c);
            nchannels--;
        }
        return;
    }
}

size_t bus_channel_count(void) { return nchannels; }

void bus_on_sub_up(void)
{
    for (size_t i = 0; i < NBUCKETS; i++)
        for (chan_t *c = buckets[i]; c; c = c->next)
            store_subscribe(c->name);
    log_info("bus: subscribed to %zu channels", nchannels);
}

void bus_free_all(void)
{
    for (size_t i = 0; i < NBUCKETS; i++) {
        while (buckets[i]) {
            chan_t *c = buckets[i];
            buckets[i] = c->next;
            free(c);
        }
    }
    nchannels = 0;
}

static void publish(const char *prefix, const char *id, json_t *event)
{
    char *text = json_dumps(event, JSON_COMPACT);
    char channel[160];
    if (!text || snprintf(channel, sizeof channel, "%s%s", prefix, id) >= (int)sizeof channel) {
        log_error("bus: cannot publish to %s%s", prefix, id);
        free(text);
        return;
    }
    store_cmdf(NULL, NULL, "PUBLISH %s %s", channel, text);
    free(text);
}

void bus_publish_user(const char *user_id, json_t *event) { publish("ev:u:", user_id, event); }
void bus_publish_circle(const char *circle_id, json_t *event) { publish("ev:c:", circle_id, event); }

typedef struct {
    const char *payload;
    size_t len;
    const char *member_circle; /* circle.membership: the circle to add/remove */
    int member;
} delivery_t;

static void deliver_one(conn_t *c, void *arg)
{
    delivery_t *d = arg;
    if (d->member_circle) {
        conn_set_circle(c, d->member_circle, d->member);
        return; /* forwarded once the circle's channel is subscribed (membership_forward) */
    }
    conn_send_text(c, d->payload, d->len);
    metrics_event_delivered();
}

/* A circle.membership event waiting for its SUBSCRIBE to be confirmed. */
typedef struct {
    char uid[80];
    size_t len;
    char payload[];
} held_t;

static void membership_forward(const store_reply_t *rep, void *priv)
{
    (void)rep;
    held_t *held = priv;
    delivery_t d = {held->payload, held->len, NULL, 0};
    conn_foreach(held->uid, deliver_one, &d);
    free(held);
}

/* Forwards a membership event only after the circle's channel is live, so that a client reacting to it
 * (e.g. reading or writing the circle's channels) cannot miss the circle's next events. */
static void membership_hold(const char *uid, const char *payload, size_t len)
{
    held_t *held = malloc(sizeof *held + len);
    if (!held)
        return;
    snprintf(held->uid, sizeof held->uid, "%s", uid);
    held->len = len;
    memcpy(held->payload, payload, len);
    store_sub_barrier(membership_forward, held);
}

/* A circle.membership event for uid: returns the circle (borrowed from *root) and member flag. */
static const char *membership(const char *uid, const char *payload, size_t len, json_t **root, int *member)
{
    *root = NULL;
    if (!memmem(payload, len, "circle.membership", 17))
        return NULL;
    *root = json_loadb(payload, len, 0, NULL);
    const char *type = json_string_value(json_object_get(*root, "type"));
    const char *user = json_string_value(json_object_get(*root, "user"));
    const char *circle = json_string_value(json_object_get(*root, "circle"));
    const char *status = json_string_value(json_object_get(*root, "status"));
    if (!type || strcmp(type, "circle.membership") || !user || strcmp(user, uid) || !circle || !status)
        return NULL;
    *member = strcmp(status, "member") == 0;
    return circle;
}

static bus_device_hook_fn device_hook;
void bus_set_device_hook(bus_device_hook_fn fn) { device_hook = fn; }

typedef struct {
    const char *device; /* to_device, or NULL */
    const char *except; /* not_device, or NULL */
    json_t *event;      /* stripped */
    const char *text;
    size_t len;
} targeted_t;

static void deliver_targeted(conn_t *c, void *arg)
{
    targeted_t *t = arg;
    if (t->except && strcmp(conn_device(c), t->except) == 0)
        return;
    if (device_hook)
        device_hook(c, t->event);
    conn_send_text(c, t->text, t->len);
    metrics_event_delivered();
}

/* An ev:u: event with "to_device" or "not_device": returns 1 if it was one (and was delivered). */
static int targeted(const char *uid, const char *payload, size_t len)
{
    if (!memmem(payload, len, "_device\"", 8))
        return 0;
    json_t *root = json_loadb(payload, len, 0, NULL);
    targeted_t t = {0};
    char *to = NULL, *except = NULL;
    const char *v;
    if ((v = json_string_value(json_object_get(root, BUS_TO_DEVICE))))
        t.device = to = strdup(v);
    if ((v = json_string_value(json_object_get(root, BUS_NOT_DEVICE))))
        t.except = except = strdup(v);
    if (!to && !except) {
        free(to);
        json_decref(root);
        return 0;
    }
    json_object_del(root, BUS_TO_DEVICE);
    json_object_del(root, BUS_NOT_DEVICE);
    t.event = root;
    char *text = json_dumps(root, JSON_COMPACT);
    if (text) {
        t.text = text;
        t.len = strlen(text);
        conn_t *c;
        if (!t.device)
            conn_foreach(uid, deliver_targeted, &t);
        else if ((c = conn_find_device(t.device)) && conn_user(c) && strcmp(conn_user(c), uid) == 0)
            deliver_targeted(c, &t);
    }
    free(text);
    free(to);
    free(except);
    json_decref(root);
    return 1;
}


/* ---------------- direct delivery to one device (signal fast paths) ---------------- */

#define DIRECT_MAX_KINDS 8

typedef struct {
    const char *kind;
    bus_direct_fn fn;
} direct_route_t;

static direct_route_t routes[DIRECT_MAX_KINDS];
static size_t nroutes;
static char node_channel[160];

int bus_direct_register(const char *kind, bus_direct_fn fn)
{
    for (size_t i = 0; i < nroutes; i++) {
        if (strcmp(routes[i].kind, kind) == 0) {
            routes[i].fn = fn;
            return 0;
        }
    }
    if (nroutes == DIRECT_MAX_KINDS)
        return -1;
    routes[nroutes].kind = kind;
    routes[nroutes++].fn = fn;
    return 0;
}

void bus_deliver_if_signed_in(conn_t *target, const char *ctx, const char *text, size_t len)
{
    (void)ctx;
    if (!conn_user(target))
        return;
    conn_send_text(target, text, len);
    metrics_event_delivered();
}

static bus_direct_fn direct_route(const char *kind, size_t n)
{
    for (size_t i = 0; i < nroutes; i++)
        if (strlen(routes[i].kind) == n && memcmp(routes[i].kind, kind, n) == 0)
            return routes[i].fn;
    return NULL;
}

int bus_init(const char *node_id)
{
    if (snprintf(node_channel, sizeof node_channel, "ev:n:%s", node_id) >= (int)sizeof node_channel)
        return -1;
    bus_ref(node_channel);
    return 0;
}

/* The node part of a device id "<node>-<conn id>": its length, or 0 if the id has no such form. */
static size_t device_node_len(const char *device)
{
    const char *dash = strrchr(device, '-');
    return dash && dash > device ? (size_t)(dash - device) : 0;
}

void bus_direct(const char *kind, const char *ctx, const char *device, const char *text, size_t len)
{
    bus_direct_fn fn = direct_route(kind, strlen(kind));
    conn_t *here = conn_find_device(device);
    if (here) { /* same node: no Redis at all */
        if (fn)
            fn(here, ctx, text, len);
        return;
    }
    size_t nlen = device_node_len(device);
    char channel[160];
    if (!nlen || strchr(kind, '\n') || strchr(ctx, '\n') || strchr(device, '\n') ||
        snprintf(channel, sizeof channel, "ev:n:%.*s", (int)nlen, device) >= (int)sizeof channel)
        return;
    if (strcmp(channel, node_channel) == 0)
        return; /* a device of this node that is gone */
    /* "kind\nctx\ndevice\n" then the text, verbatim: the receiving node parses no JSON. */
    size_t head = strlen(kind) + strlen(ctx) + strlen(device) + 3;
    char *payload = malloc(head + len);
    if (!payload)
        return;
    snprintf(payload, head + 1, "%s\n%s\n%s\n", kind, ctx, device);
    memcpy(payload + head, text, len);
    const char *argv[3] = {"PUBLISH", channel, payload};
    size_t argl[3] = {7, strlen(channel), head + len};
    store_cmd(NULL, NULL, 3, argv, argl);
    free(payload);
    metrics_direct_sent();
}

/* A direct message from another node: finds the device here and hands it to its kind's receiver. */
static void direct_arrived(const char *payload, size_t len)
{
    const char *end = payload + len, *fields[3];
    size_t flen[3];
    const char *p = payload;
    for (int i = 0; i < 3; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || nl - p >= 128)
            return;
        fields[i] = p;
        flen[i] = (size_t)(nl - p);
        p = nl + 1;
    }
    char ctx[130], device[130];
    snprintf(ctx, sizeof ctx, "%.*s", (int)flen[1], fields[1]);
    snprintf(device, sizeof device, "%.*s", (int)flen[2], fields[2]);
    bus_direct_fn fn = direct_route(fields[0], flen[0]);
    conn_t *c = conn_find_device(device);
    if (fn && c)
        fn(c, ctx, p, (size_t)(end - p));
}

/* ---------------- circle events: interception and later delivery ---------------- */

static char intercept_marker[64];
static bus_interceptor_fn interceptor;

int bus_intercept_circle(const char *type, bus_interceptor_fn fn)
{
    if (snprintf(intercept_marker, sizeof intercept_marker, "\"type\":\"%s\"", type) >= (int)sizeof intercept_marker)
        return -1;
    interceptor = fn;
    return 0;
}

void bus_deliver_circle(const char *circle_id, const char *payload, size_t len)
{
    delivery_t d = {payload, len, NULL, 0};
    conn_foreach_in_circle(circle_id, deliver_one, &d);
}

/* ---------------- observers of event types ---------------- */

#define MAX_OBSERVERS 8

static struct {
    char marker[64]; /* "type":"<type>" as it appears in the payload */
    bus_observer_fn fn;
} observers[MAX_OBSERVERS];
static size_t nobservers;

int bus_observe(const char *type, bus_observer_fn fn)
{
    if (nobservers == MAX_OBSERVERS ||
        snprintf(observers[nobservers].marker, sizeof observers[0].marker, "\"type\":\"%s\"", type) >=
            (int)sizeof observers[0].marker)
        return -1;
    observers[nobservers++].fn = fn;
    return 0;
}

static void observe(const char *payload, size_t len)
{
    for (size_t i = 0; i < nobservers; i++)
        if (memmem(payload, len, observers[i].marker, strlen(observers[i].marker)))
            observers[i].fn(payload, len);
}

static bus_session_fn session_handler;
void bus_on_session(bus_session_fn fn) { session_handler = fn; }

/* ---------------- a node's own channels outside ev:* ---------------- */

static struct {
    char name[160];
    bus_channel_fn fn;
} own[BUS_CHANNELS_MAX];

int bus_channel_open(const char *channel, bus_channel_fn fn)
{
    for (size_t i = 0; i < BUS_CHANNELS_MAX; i++) {
        if (own[i].fn || strlen(channel) >= sizeof own[i].name)
            continue;
        snprintf(own[i].name, sizeof own[i].name, "%s", channel);
        own[i].fn = fn;
        bus_ref(channel);
        return 0;
    }
    return -1;
}

void bus_channel_close(const char *channel)
{
    for (size_t i = 0; i < BUS_CHANNELS_MAX; i++) {
        if (own[i].fn && strcmp(own[i].name, channel) == 0) {
            own[i].fn = NULL;
            bus_unref(channel);
        }
    }
}

/* 1 if channel is one of this node's own channels (and the message was handed over). */
static int own_channel(const char *channel, const char *payload, size_t len)
{
    if (strncmp(channel, "ev:", 3) == 0)
        return 0;
    for (size_t i = 0; i < BUS_CHANNELS_MAX; i++) {
        if (own[i].fn && strcmp(own[i].name, channel) == 0) {
            own[i].fn(payload, len);
            return 1;
        }
    }
    return 0;
}

void bus_on_message(const char *channel, const char *payload, size_t len)
{
    if (own_channel(channel, payload, len))
        return;
    if (nobservers && strncmp(channel, "ev:n:", 5) != 0)
        observe(payload, len);
    delivery_t d = {payload, len, NULL, 0};
    if (strncmp(channel, "ev:u:", 5) == 0) {
        if (targeted(channel + 5, payload, len))
            return;
        json_t *root;
        d.member_circle = membership(channel + 5, payload, len, &root, &d.member);
        conn_foreach(channel + 5, deliver_one, &d);
        if (d.member_circle)
            membership_hold(channel + 5, payload, len);
        json_decref(root);
    } else if (strncmp(channel, "ev:c:", 5) == 0) {
        if (interceptor && memmem(payload, len, intercept_marker, strlen(intercept_marker)) &&
            interceptor(channel + 5, payload, len))
            return;
        conn_foreach_in_circle(channel + 5, deliver_one, &d);
    } else if (strncmp(channel, "ev:n:", 5) == 0) {
        direct_arrived(payload, len);
    } else if (strncmp(channel, "ev:s:", 5) == 0) {
        if (session_handler)
            session_handler(channel + 5, payload, len);
    }
}
