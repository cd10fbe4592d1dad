/* control.c — see control.h. */
#include "control.h"

#include <glib.h>
#include <hiredis/adapters/glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

#define RECONNECT_MS 500

typedef struct link link_t;
struct link {
    control_t *owner;
    const char *name; /* "sub" or "cmd" for logs */
    redisAsyncContext *ac;
    GSource *source;
    GSource *dead_source; /* the previous connection's source, destroyed outside its dispatch */
    int connected;
    int ready; /* sub: subscription acknowledged; cmd: connected */
};

struct control {
    control_params_t p;
    control_callbacks_t cb;
    char *id, *host, *password;
    char *cmd_channel, *alive_key;
    link_t sub, cmd;
    guint heartbeat_timer, reconnect_timer;
    int draining, closing;
    int stopping; /* control_free runs: commands are no longer delivered */
    void (*drain_done)(void *);
    void *drain_ctx;
    uint64_t dropped_publishes;
};

static void link_open(link_t *l);
static void heartbeat(control_t *c);

static void link_lost(link_t *l)
{
    l->ac = NULL;
    l->connected = l->ready = 0;
    /* We are inside the source's dispatch (or hiredis's free); its unref waits for the reconnect timer. */
    if (l->dead_source) {
        g_source_destroy(l->dead_source);
        g_source_unref(l->dead_source);
    }
    l->dead_source = l->source;
    l->source = NULL;
}

static gboolean on_reconnect(gpointer data)
{
    control_t *c = data;
    c->reconnect_timer = 0;
    link_t *links[2] = {&c->sub, &c->cmd};
    for (int i = 0; i < 2; i++) {
        link_t *l = links[i];
        if (l->dead_source) {
            g_source_destroy(l->dead_source);
            g_source_unref(l->dead_source);
            l->dead_source = NULL;
        }
        if (!l->ac)
            link_open(l);
    }
    return G_SOURCE_REMOVE;
}

static void schedule_reconnect(control_t *c)
{
    if (!c->reconnect_timer && !c->closing)
        c->reconnect_timer = g_timeout_add(RECONNECT_MS, on_reconnect, c);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    link_t *l = ac->data;
    if (status != REDIS_OK) {
        log_warn("redis %s connection to %s:%u failed: %s", l->name, l->owner->host, l->owner->p.port, ac->errstr);
        link_lost(l);
        schedule_reconnect(l->owner);
        return;
    }
    l->connected = 1;
    log_info("redis %s connection up", l->name);
    if (l == &l->owner->cmd) {
        l->ready = 1;
        heartbeat(l->owner);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    link_t *l = ac->data;
    if (l->owner->closing)
        return;
    log_warn("redis %s connection lost%s%s", l->name, status == REDIS_OK ? "" : ": ", status == REDIS_OK ? "" : ac->errstr);
    sfu_counters.redis_reconnects++;
    link_lost(l);
    schedule_reconnect(l->owner);
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    link_t *l = ac->data;
    redisReply *reply = r;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
        return;
    redisReply *kind = reply->element[0];
    if (kind->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(kind->str, "subscribe") == 0) {
        l->ready = 1;
        log_info("subscribed to %s", l->owner->cmd_channel);
    } else if (strcmp(kind->str, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING && !l->owner->stopping) {
        l->owner->cb.on_command(l->owner->cb.ctx, reply->element[2]->str, reply->element[2]->len);
    }
}

static void on_auth(redisAsyncContext *ac, void *r, void *priv)
{
    (void)priv;
    redisReply *reply = r;
    link_t *l = ac->data;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_error("redis %s AUTH refused: %s", l->name, reply->str);
}

static void link_open(link_t *l)
{
    control_t *c = l->owner;
    redisAsyncContext *ac = redisAsyncConnect(c->host, c->p.port);
    if (!ac) {
        schedule_reconnect(c);
        return;
    }
    if (ac->err) {
        log_warn("redis %s connection to %s:%u: %s", l->name, c->host, c->p.port, ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    ac->data = l;
    l->ac = ac;
    l->source = redis_source_new(ac);
    g_source_attach(l->source, NULL);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (*c->password)
        redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", c->password);
    if (l == &c->sub)
        redisAsyncCommand(ac, on_sub_reply, NULL, "SUBSCRIBE %s", c->cmd_channel);
}

static void heartbeat(control_t *c)
{
    if (!c->cmd.ready)
        return;
    uint64_t participants = 0, rooms = 0;
    c->cb.load(c->cb.ctx, &participants, &rooms);
    char value[512];
    snprintf(value, sizeof value,
             "{\"id\":\"%s\",\"participants\":%llu,\"rooms\":%llu,\"capacity\":%llu,\"started_ms\":%llu}", c->id,
             (unsigned long long)participants, (unsigned long long)rooms, (unsigned long long)c->p.capacity,
             (unsigned long long)c->p.started_ms);
    redisAsyncCommand(c->cmd.ac, NULL, NULL, "SET %s %s PX %u", c->alive_key, value, 3 * c->p.heartbeat_ms);
    if (!c->draining)
        redisAsyncCommand(c->cmd.ac, NULL, NULL, "ZADD sfu:load %llu %s", (unsigned long long)participants, c->id);
}

static gboolean on_heartbeat(gpointer data)
{
    heartbeat(data);
    return G_SOURCE_CONTINUE;
}

control_t *control_new(const control_params_t *p, const control_callbacks_t *cb)
{
    control_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->p = *p;
    c->cb = *cb;
    c->id = g_strdup(p->id);
    c->host = g_strdup(p->host);
    c->password = g_strdup(p->password ? p->password : "");
    c->cmd_channel = g_strdup_printf("sfu:cmd:%s", p->id);
    c->alive_key = g_strdup_printf("sfu:alive:%s", p->id);
    c->sub = (link_t){.owner = c, .name = "sub"};
    c->cmd = (link_t){.owner = c, .name = "cmd"};
    link_open(&c->sub);
    link_open(&c->cmd);
    /* The first registration goes out as soon as the command connection is up (on_connect). */
    c->heartbeat_timer = g_timeout_add(p->heartbeat_ms, on_heartbeat, c);
    return c;
}

int control_up(const control_t *c) { return c->sub.ready && c->cmd.ready; }

void control_publish(control_t *c, const char *node, const char *text)
{
    if (!c->cmd.ready) {
        if (c->dropped_publishes++ % 100 == 0)
            log_warn("redis is away: publish to sfu:to:%s dropped (%llu so far)", node,
                     (unsigned long long)c->dropped_publishes);
        return;
    }
    redisAsyncCommand(c->cmd.ac, NULL, NULL, "PUBLISH sfu:to:%s %s", node, text);
}

static void on_zrem(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    (void)r;
    control_t *c = priv;
    if (c->drain_done) {
        void (*done)(void *) = c->drain_done;
        c->drain_done = NULL;
        done(c->drain_ctx);
    }
}

void control_drain(control_t *c, void (*done)(void *ctx), void *ctx)
{
    c->draining = 1;
    c->drain_done = done;
    c->drain_ctx = ctx;
    if (!c->cmd.ready) {
        c->drain_done = NULL;
        done(ctx);
        return;
    }
    redisAsyncCommand(c->cmd.ac, on_zrem, c, "ZREM sfu:load %s", c->id);
}

static void on_del(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    (void)r;
    *(int *)priv = 1;
}

static gboolean on_give_up(gpointer data)
{
    *(int *)data = 1;
    return G_SOURCE_REMOVE;
}

void control_free(control_t *c)
{
    if (!c)
        return;
    c->stopping = 1;
    if (c->heartbeat_timer)
        g_source_remove(c->heartbeat_timer);
    int answered = 0; /* outlives the loop below: hiredis may call on_del from redisAsyncFree */
    if (c->cmd.ready) {
        redisAsyncCommand(c->cmd.ac, NULL, NULL, "ZREM sfu:load %s", c->id);
        redisAsyncCommand(c->cmd.ac, on_del, &answered, "DEL %s", c->alive_key);
        int gave_up = 0;
        guint t = g_timeout_add(500, on_give_up, &gave_up);
        while (!answered && !gave_up && c->cmd.ac)
            g_main_context_iteration(NULL, TRUE);
        if (!gave_up)
            g_source_remove(t);
    }
    c->closing = 1;
    if (c->reconnect_timer)
        g_source_remove(c->reconnect_timer);
    link_t *links[2] = {&c->sub, &c->cmd};
    for (int i = 0; i < 2; i++) {
        link_t *l = links[i];
        if (l->ac)
            redisAsyncFree(l->ac);
        if (l->source) {
            g_source_destroy(l->source);
            g_source_unref(l->source);
        }
        if (l->dead_source) {
            g_source_destroy(l->dead_source);
            g_source_unref(l->dead_source);
        }
    }
    g_free(c->id);
    g_free(c->host);
    g_free(c->password);
    g_free(c->cmd_channel);
    g_free(c->alive_key);
    free(c);
}
