/* help.c — help.* handlers and the timeout sweep (see help.h). Each handler validates its fields, then
 * runs one library function (lua/help.lua) that checks authorisation, writes and publishes atomically. */
#include "help.h"

#include <stdio.h>
#include <string.h>

#include "calls.h"
#include "config.h"
#include "feature.h"
#include "store.h"

/* ---------------- requests ---------------- */

/* The request's device id, or NULL (answered: the connection is gone). */
static const char *req_device(req_t *r)
{
    conn_t *c = conn_find(req_conn(r));
    if (!c || !conn_user(c)) {
        req_error(r, E_UNAUTHORIZED, "sign in first");
        return NULL;
    }
    return conn_device(c);
}

static void timeout_ms(char out[24])
{
    snprintf(out, 24, "%lld", config_get()->help_timeout * 1000);
}

static void help_duty(req_t *r)
{
    const char *cid, *dev;
    int on;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || req_bool(r, "on", 1, &on) < 0 ||
        !(dev = req_device(r)))
        return;
    const char *args[] = {req_user(r), dev, cid, on ? "1" : "0"};
    feature_eval_answer(r, "help_duty", 0, 4, args);
}

/* help.request's reach: the experts on duty only, or also those online but not on duty (help.nudge). */
static const char *const reaches[] = {"on_duty", "online", NULL};

static void help_request(req_t *r)
{
    const char *cid, *topic, *details = "", *dev, *reach = "on_duty";
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 ||
        req_str(r, "topic", 1, HELP_TOPIC_MAX, 1, &topic) < 0 ||
        req_str(r, "details", 0, HELP_DETAILS_MAX, 0, &details) < 0 ||
        feature_req_enum(r, "reach", reaches, 0, &reach) < 0 || !(dev = req_device(r)))
        return;
    char rid[FEATURE_ID_LEN + 1], tmo[24];
    if (feature_id_new(rid) < 0) {
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    timeout_ms(tmo);
    const char *args[] = {rid, req_user(r), dev, cid, topic, details, tmo, reach};
    feature_eval_answer(r, "help_request", 0, 8, args);
}

static void help_accept(req_t *r)
{
    const char *rid, *dev;
    if (feature_req_id(r, "request", 0, 1, &rid) < 0 || !(dev = req_device(r)))
        return;
    char call[FEATURE_ID_LEN + 1];
    if (feature_id_new(call) < 0) {
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    const char *args[] = {rid, req_user(r), dev, call};
    feature_eval_answer(r, "help_accept", 0, 4, args);
}

static void help_cancel(req_t *r)
{
    const char *rid;
    if (feature_req_id(r, "request", 0, 1, &rid) < 0)
        return;
    const char *args[] = {rid, req_user(r)};
    feature_eval_answer(r, "help_cancel", 0, 2, args);
}

static void help_wait(req_t *r)
{
    const char *rid;
    if (feature_req_id(r, "request", 0, 1, &rid) < 0)
        return;
    char tmo[24];
    timeout_ms(tmo);
    const char *args[] = {rid, req_user(r), tmo};
    feature_eval_answer(r, "help_wait", 0, 3, args);
}

static void help_list(req_t *r)
{
    const char *cid;
    long long limit = 20;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || req_int(r, "limit", 1, 100, 0, &limit) < 0)
        return;
    char lim[8];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), cid, lim};
    feature_eval_answer(r, "help_list", 0, 3, args);
}

static const handler_t handlers[] = {
    {"help.duty", help_duty, H_RL_READ},
    {"help.request", help_request, H_RL_MSG},
    {"help.accept", help_accept, H_RL_READ},
    {"help.cancel", help_cancel, H_RL_READ},
    {"help.wait", help_wait, H_RL_MSG},
    {"help.list", help_list, H_RL_READ},
    {NULL, NULL, 0},
};

static int help_start(uv_loop_t *loop);
static void help_stop(void);

const module_t help_module = {
    .name = "help",
    .handlers = handlers,
    .start = help_start,
    .stop = help_stop,
};

/* ---------------- the timeout sweep ---------------- */

static uv_timer_t sweeper;
static int started;

static void sweep_fire(uv_timer_t *t)
{
    (void)t;
    static const char batch[] = "100";
    _Static_assert(HELP_SWEEP_BATCH == 100, "batch text");
    const char *args[] = {batch};
    if (store_is_up())
        store_fcall("help_sweep", NULL, NULL, 0, 1, args);
}

static int help_start(uv_loop_t *loop)
{
    uint64_t every = (uint64_t)config_get()->help_sweep_interval;
    uv_timer_init(loop, &sweeper);
    uv_timer_start(&sweeper, sweep_fire, every, every);
    started = 1;
    return 0;
}

static void help_stop(void)
{
    if (!started)
        return;
    started = 0;
    uv_close((uv_handle_t *)&sweeper, NULL);
}
