/* dispatch.c — see dispatch.h. */
#include "dispatch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "store.h"
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
static ratelimit_table_t *msg_limits, *signal_limits, *read_limits; /* sign-ins: in Redis (login_gate) */
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
    msg_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    signal_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    read_limits = ratelimit_table_new(LIMIT_TABLE_CAP);
    return msg_limits && signal_limits && read_limits ? 0 : -1;
}

void dispatch_free(void)
{
    ratelimit_table_free(msg_limits);
    ratelimit_table_free(signal_limits);
    ratelimit_table_free(read_limits);
    msg_limits = signal_limits = read_limits = NULL;
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

/* The rate limits, and why they live where they do:
 *  - sign-in attempts (H_RL_LOGIN: register, login, resume, password) are limited in Redis
 *    (lua/ratelimit.lua), so the limit holds across every node, per address prefix (an IPv6 client
 *    owns a whole /64: rotating inside it gains nothing) and, for auth.login and auth.password, per
 *    account as well (guessing one account's password from many addresses is limited too). A sign-in
 *    costs a Redis round trip and an Argon2id hash anyway: one more round trip is noise.
 *  - every other class is limited per user on this node (per address before sign-in): the signal fast
 *    path must not wait for Redis. With N nodes a user reaching several of them gets at most N times the
 *    configured rate (config/staffroom-signal.conf says so); user ids cannot be rotated (accounts are made
 *    through the Redis-limited sign-ins). The tables never forget a bucket that is still refilling
 *    (ratelimit.h), so rotating addresses does not reset anyone's limit either. */

/* 0 if allowed, else the retry hint in ms: the per-node classes. */
static uint64_t limited(conn_t *c, unsigned flags)
{
    const signal_config_t *cfg = config_get();
    const char *who = conn_user(c) ? conn_user(c) : conn_peer(c);
    ratelimit_table_t *t;
    long long rate, burst;
    switch (flags & H_RL_MASK) {
    case H_RL_MSG: t = msg_limits, rate = cfg->message_rate, burst = cfg->message_burst; break;
    case H_RL_SIGNAL: t = signal_limits, rate = cfg->signal_rate, burst = cfg->signal_burst; break;
    default: t = read_limits, rate = cfg->request_rate, burst = cfg->request_burst; break;
    }
    return t ? ratelimit_table_take(t, who, now_ms(), rate, burst) : 0;
}

/* The address prefix a sign-in limit counts for: an IPv4 address, or the /64 of an IPv6 one (IPv4-mapped
 * IPv6 counts as IPv4). out: "a:<text>". */
static void peer_prefix(const char *peer, char *out, size_t cap)
{
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET6, peer, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0 && inet_ntop(AF_INET, a + 12, text, sizeof text)) {
            snprintf(out, cap, "a:%s", text);
            return;
        }
        memset(a + 8, 0, 8);
        if (inet_ntop(AF_INET6, a, text, sizeof text)) {
            snprintf(out, cap, "a:%s/64", text);
            return;
        }
    }
    snprintf(out, cap, "a:%s", peer);
}

typedef struct {
    req_t *r;
    const handler_t *h;
} gated_t;

static void login_gate_answered(const store_reply_t *rep, void *priv)
{
    gated_t g = *(gated_t *)priv;
    free(priv);
    if (!store_ok(rep) || store_type(rep) != STORE_INT) {
        req_store_error(g.r, rep); /* Redis down: the sign-in could not be done either */
        return;
    }
    long long wait = store_int(rep);
    if (wait > 0) {
        req_error_ex(g.r, E_RATE_LIMITED, NULL, wait, "too many sign-in attempts; retry later");
        return;
    }
    g.h->fn(g.r);
}

/* Sign-in attempts: one token from the address prefix's bucket and, for a named account, the account's,
 * in Redis; the handler runs once they are taken. */
static void login_gate(req_t *r, conn_t *c, const handler_t *h)
{
    const signal_config_t *cfg = config_get();
    char addr[96], acct[96], rate[24], burst[24];
    const char *args[4];
    int nkeys = 0;
    peer_prefix(conn_peer(c), addr + 9, sizeof addr - 9);
    memcpy(addr, "rl:login:", 9);
    args[nkeys++] = addr;
    const char *name = json_string_value(json_object_get(req_json(r), "name"));
    if (strcmp(h->type, "auth.login") == 0 && name && strlen(name) <= 64) {
        size_t i = 0;
        memcpy(acct, "rl:login:n:", 11);
        for (; name[i] && i < 64; i++)
            acct[11 + i] = (char)tolower((unsigned char)name[i]);
        acct[11 + i] = '\0';
        args[nkeys++] = acct;
    } else if (strcmp(h->type, "auth.password") == 0 && conn_user(c)) {
        snprintf(acct, sizeof acct, "rl:login:u:%s", conn_user(c));
        args[nkeys++] = acct;
    }
    snprintf(rate, sizeof rate, "%lld", cfg->login_rate);
    snprintf(burst, sizeof burst, "%lld", cfg->login_burst);
    args[nkeys] = rate;
    args[nkeys + 1] = burst;
    gated_t *g = malloc(sizeof *g);
    if (!g) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    *g = (gated_t){r, h};
    store_fcall("ratelimit_take", login_gate_answered, g, nkeys, 2, args);
}

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
    uint64_t wait = (h->flags & H_RL_MASK) == H_RL_LOGIN ? 0 : limited(c, h->flags);
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
    if ((h->flags & H_RL_MASK) == H_RL_LOGIN) {
        login_gate(r, c, h); /* the handler runs later, without the frame's raw text (none needs it) */
        return;
    }
    msg_set_frame(r, buf, len);
    if (pass)
        msg_set_frame_member("data", pass, pass_len);
    h->fn(r);
    msg_set_frame(NULL, NULL, 0);
}
