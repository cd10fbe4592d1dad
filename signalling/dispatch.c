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
#include "strmap.h"

static void on_ping(req_t *r)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *o = json_pack("{s:b,s:I}", "pong", 1, "ts", (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    req_ok(r, o);
}

static const handler_t core_handlers[] = {
    {"ping", on_ping, H_PUBLIC | H_RL_READ},
    {NULL, NULL, 0},
};

/* Buckets per class: per user (per IP before sign-in). The tables are O(1) per request, so they can
 * hold every user of a large node; past the cap the least recently seen key is forgotten. */
#define LIMIT_TABLE_CAP 65536
static ratelimit_table_t *login_limits, *msg_limits, *signal_limits, *read_limits;
static strmap_t *types; /* request type → handler_t* */

const handler_t *dispatch_find(const char *type) { return types ? strmap_get(types, type) : NULL; }

static int add_table(const char *module, const handler_t *h)
{
    for (; h && h->type; h++) {
        unsigned rl = h->flags & H_RL_MASK;
        if (rl == 0 || (rl & (rl - 1))) {
            log_error("dispatch: %s (module %s) must have exactly one rate class", h->type, module);
            return -1;
        }
        if (strmap_get(types, h->type)) {
            log_error("dispatch: request type %s is defined twice (module %s)", h->type, module);
            return -1;
        }
        if (strmap_put(types, h->type, (void *)h) < 0)
            return -1;
    }
    return 0;
}

int dispatch_init(void)
{
    dispatch_free();
    if (!(types = strmap_new()) || add_table("core", core_handlers) < 0)
        return -1;
    size_t n;
    const module_t *const *mods = module_list(&n);
    for (size_t i = 0; i < n; i++)
        if (add_table(mods[i]->name, mods[i]->handlers) < 0)
            return -1;
    log_debug("dispatch: %zu request types", strmap_count(types));
    login_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    msg_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    signal_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    read_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    return login_limits && msg_limits && signal_limits && read_limits ? 0 : -1;
}

void dispatch_free(void)
{
    ratelimit_table_free(login_limits);
    ratelimit_table_free(msg_limits);
    ratelimit_table_free(signal_limits);
    ratelimit_table_free(read_limits);
    login_limits = msg_limits = signal_limits = read_limits = NULL;
    strmap_free(types);
    types = NULL;
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
 * several nodes gets the limit once per node. Sign-in attempts count per IP; the other classes per user,
 * or per IP for a connection not signed in yet. */
static uint64_t limited(conn_t *c, unsigned flags)
{
    const signal_config_t *cfg = config_get();
    const char *who = conn_user(c) ? conn_user(c) : conn_peer(c);
    ratelimit_table_t *t;
    long long rate, burst;
    switch (flags & H_RL_MASK) {
    case H_RL_LOGIN: t = login_limits, who = conn_peer(c), rate = cfg->login_rate, burst = cfg->login_burst; break;
    case H_RL_MSG: t = msg_limits, rate = cfg->message_rate, burst = cfg->message_burst; break;
    case H_RL_SIGNAL: t = signal_limits, rate = cfg->signal_rate, burst = cfg->signal_burst; break;
    default: t = read_limits, rate = cfg->request_rate, burst = cfg->request_burst; break;
    }
    return t ? ratelimit_table_take(t, who, now_ms(), rate, burst) : 0;
}

/* 1 if the frame's type (read without parsing) is one whose data is only passed on. */
void dispatch_frame(conn_t *c, const char *buf, size_t len)
{
    msg_parsed_t p;
    /* Every frame first gets the one-pass parse that leaves a `data` object as text (the signals' fast
     * path); a frame it does not take, or whose handler needs `data` built, is parsed again in full. */
    int lazy = msg_parse_passthrough(buf, len, "data", &p) == 0;
    if (lazy && p.pass_stubbed) {
        const handler_t *h = dispatch_find(p.type);
        if (!h || !(h->flags & H_PASS_DATA)) {
            msg_parsed_clear(&p);
            lazy = 0;
        }
    }
    if (!lazy && msg_parse(buf, len, &p) < 0) {
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
    const char *pass = p.pass_stubbed ? p.pass : NULL;
    size_t pass_len = p.pass_len;
    json_t *root = json_incref(p.root);
    msg_parsed_clear(&p);
    req_t *r = req_new(conn_id(c), conn_user(c), root, h->type);
    if (!r) {
        answer_error(c, NULL, h->type, E_INTERNAL, NULL, 0, "out of memory");
        return;
    }
    msg_set_frame(r, buf, len);
    if (pass)
        msg_set_frame_member("data", pass, pass_len);
    h->fn(r);
    msg_set_frame(NULL, NULL, 0);
}
