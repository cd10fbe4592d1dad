/* dispatch.c — see dispatch.h. */
#include "dispatch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"

/* Weak: a feature module that is not linked yet leaves its table NULL, so the build never depends on
 * the order in which modules land. */
extern const handler_t accounts_handlers[] __attribute__((weak));
extern const handler_t presence_handlers[] __attribute__((weak));
extern const handler_t circles_handlers[] __attribute__((weak));
extern const handler_t channels_handlers[] __attribute__((weak));
extern const handler_t turn_handlers[] __attribute__((weak));
extern const handler_t calls_handlers[] __attribute__((weak));
extern const handler_t help_handlers[] __attribute__((weak));
extern const handler_t rooms_handlers[] __attribute__((weak));
extern const handler_t schedule_handlers[] __attribute__((weak));
extern const handler_t mentoring_handlers[] __attribute__((weak));

static void on_ping(req_t *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *o = json_pack("{s:b,s:I}", "pong", 1, "ts", (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    req_ok(r, o);
}

static const handler_t core_handlers[] = {
    {"ping", on_ping, H_PUBLIC},
    {NULL, NULL, 0},
};

#define LIMIT_TABLE_CAP 8192
static ratelimit_table_t *login_limits, *msg_limits, *signal_limits;

static const handler_t *tables(size_t i)
{
    switch (i) {
    case 0: return core_handlers;
    case 1: return accounts_handlers;
    case 2: return presence_handlers;
    case 3: return circles_handlers;
    case 4: return channels_handlers;
    case 5: return turn_handlers;
    case 6: return calls_handlers;
    case 7: return rooms_handlers;
    case 8: return help_handlers;
    case 9: return schedule_handlers;
    case 10: return mentoring_handlers;
    default: return NULL;
    }
}
#define NTABLES 11

const handler_t *dispatch_find(const char *type)
{
    for (size_t t = 0; t < NTABLES; t++) {
        const handler_t *h = tables(t);
        for (; h && h->type; h++)
            if (strcmp(h->type, type) == 0)
                return h;
    }
    return NULL;
}

int dispatch_init(void)
{
    size_t n = 0;
    for (size_t t = 0; t < NTABLES; t++)
        for (const handler_t *h = tables(t); h && h->type; h++, n++)
            if (dispatch_find(h->type) != h)
                log_error("dispatch: request type %s is defined twice; the first one wins", h->type);
    log_debug("dispatch: %zu request types", n);
    login_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    msg_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    signal_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    return login_limits && msg_limits && signal_limits ? 0 : -1;
}

void dispatch_free(void)
{
    ratelimit_table_free(login_limits);
    ratelimit_table_free(msg_limits);
    ratelimit_table_free(signal_limits);
    login_limits = msg_limits = signal_limits = NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void answer_error(conn_t *c, const json_t *id, const char *label, const char *code, const char *field,
                         long long retry_ms, const char *message)
{
    char *text = msg_error_text(id, code, field, retry_ms, message);
    if (text)
        conn_send_text(c, text, strlen(text));
    free(text);
    metrics_request(label, code);
}

void dispatch_reject(conn_t *c, const char *message)
{
    answer_error(c, NULL, "unknown", E_BAD_REQUEST, NULL, 0, message);
}

/* 0 if allowed, else the retry hint in ms. Limiters are per node: a client spreading its attempts over
 * several nodes gets the limit once per node. */
static uint64_t limited(conn_t *c, unsigned flags)
{
    const signal_config_t *cfg = config_get();
    if ((flags & H_RL_LOGIN) && login_limits)
        return ratelimit_table_take(login_limits, conn_peer(c), now_ms(), cfg->login_rate, cfg->login_burst);
    if ((flags & H_RL_MSG) && msg_limits && conn_user(c))
        return ratelimit_table_take(msg_limits, conn_user(c), now_ms(), cfg->message_rate, cfg->message_burst);
    if ((flags & H_RL_SIGNAL) && signal_limits && conn_user(c))
        return ratelimit_table_take(signal_limits, conn_user(c), now_ms(), cfg->signal_rate, cfg->signal_burst);
    return 0;
}

void dispatch_frame(conn_t *c, const char *buf, size_t len)
{
    msg_parsed_t p;
    if (msg_parse(buf, len, &p) < 0) {
        log_debug("conn %" PRIu64 ": bad frame: %s", conn_id(c), p.message);
        answer_error(c, p.id, "unknown", p.code, p.field, 0, p.message);
        msg_parsed_clear(&p);
        return;
    }
    const handler_t *h = dispatch_find(p.type);
    char why[128];
    if (!h) {
        snprintf(why, sizeof why, "unknown type '%s'", p.type);
        answer_error(c, p.id, "unknown", E_BAD_REQUEST, "type", 0, why);
        msg_parsed_clear(&p);
        return;
    }
    if (!(h->flags & H_PUBLIC) && !conn_user(c)) {
        answer_error(c, p.id, h->type, E_UNAUTHORIZED, NULL, 0, "sign in first");
        msg_parsed_clear(&p);
        return;
    }
    uint64_t wait = limited(c, h->flags);
    if (wait) {
        answer_error(c, p.id, h->type, E_RATE_LIMITED, NULL, (long long)wait, "too many requests; retry later");
        msg_parsed_clear(&p);
        return;
    }
    json_t *root = json_incref(p.root);
    msg_parsed_clear(&p);
    req_t *r = req_new(conn_id(c), conn_user(c), root, h->type);
    if (!r) {
        answer_error(c, NULL, h->type, E_INTERNAL, NULL, 0, "out of memory");
        return;
    }
    h->fn(r);
}
