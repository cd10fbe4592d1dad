/* store.c — see store.h. hiredis 0.14.1's async API with its libuv adapter.
 *
 * hiredis frees an async context itself after its connect callback reports failure, and after the
 * disconnect callback; we only ever forget our pointer there. When hiredis tears a context down it
 * calls every pending reply callback with a NULL reply: that is how "exactly once, NULL if Redis went
 * away" holds for commands in flight. */
#include "store.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libuv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "lua_library.h"

enum { ROLE_CMD, ROLE_SUB };
static const char *const role_name[] = {"commands", "pub/sub"};
static int role_ids[2] = {ROLE_CMD, ROLE_SUB}; /* ac->data points here */

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define BACKOFF_SENTINEL_MAX_MS 1000
#define CLOSE_GRACE_MS 2000
#define HANDSHAKE_TIMEOUT_MS 3000 /* connect + AUTH + PING */

typedef struct deferred {
    struct deferred *next;
    store_cb cb;
    void *priv;
} deferred_t;

typedef struct barrier {
    struct barrier *next;
    uint64_t target; /* fires once sub_confirmed reaches it */
    store_cb cb;
    void *priv;
} barrier_t;

static struct {
    uv_loop_t *loop;
    uint64_t sub_sent, sub_confirmed; /* SUBSCRIBEs on the current pub/sub connection */
    barrier_t *bhead, **btail;
    char *host, *password;
    int port;
    redisAsyncContext *ac[2];
    int up[2];
    int was_up;        /* for logging transitions once */
    int closing, opened;
    uint64_t lib_loads; /* FUNCTION LOADs queued so far (any connection) */
    uv_timer_t retry, defer, grace, watchdog, live;
    /* Liveness (see "liveness" below): commands sent on the command connection and not answered yet, and
     * when that connection last showed progress (an answer, or the first command after a quiet time). */
    unsigned ping_ms, timeout_ms;
    uint64_t pending, progress_at;
    int hb_ready;         /* the pub/sub connection's SUBSCRIBE to hb_channel is confirmed */
    int hb_outstanding;   /* a heartbeat was published and the pub/sub connection has not seen it yet */
    uint64_t hb_sent_at;
    char hb_channel[48];  /* store:hb:<random>: this process's own heartbeat channel */
    /* Durability of store_fcall_durable: WAIT for this many replicas, this long (0: no WAIT). */
    unsigned wait_replicas, wait_ms;
    /* Sentinel mode (nsentinels > 0): the master's address comes from the Sentinels. */
    char **sentinel_host;
    int *sentinel_port;
    size_t nsentinels, sentinel_next, sentinel_tried;
    char *master_name;
    char *sentinel_password; /* "" when the Sentinels need no AUTH */
    redisAsyncContext *sentinel_ac; /* the query in flight, if any */
    uint64_t sentinel_started;
    int not_master[2]; /* sentinel mode: this connection reached an instance that is not the master */
    uint64_t started[2]; /* loop time of the current connection attempt */
    unsigned backoff_ms;
    deferred_t *dhead, **dtail;
    store_message_fn on_message;
    store_sub_up_fn on_sub_up;
    store_up_fn on_up;
} S;

/* ---------------- replies ---------------- */

static const redisReply *R(const store_reply_t *r) { return (const redisReply *)(const void *)r; }

enum store_type store_type(const store_reply_t *r)
{
    switch (R(r)->type) {
    case REDIS_REPLY_INTEGER: return STORE_INT;
    case REDIS_REPLY_STRING: return STORE_STR;
    case REDIS_REPLY_ARRAY: return STORE_ARR;
    case REDIS_REPLY_ERROR: return STORE_ERR;
    case REDIS_REPLY_STATUS: return STORE_STATUS;
    default: return STORE_NIL;
    }
}

long long store_int(const store_reply_t *r) { return r && R(r)->type == REDIS_REPLY_INTEGER ? R(r)->integer : 0; }

const char *store_str(const store_reply_t *r, size_t *len)
{
    if (!r)
        return NULL;
    int t = R(r)->type;
    if (t != REDIS_REPLY_STRING && t != REDIS_REPLY_STATUS && t != REDIS_REPLY_ERROR)
        return NULL;
    if (len)
        *len = R(r)->len;
    return R(r)->str;
}

size_t store_len(const store_reply_t *r) { return r && R(r)->type == REDIS_REPLY_ARRAY ? R(r)->elements : 0; }

const store_reply_t *store_elem(const store_reply_t *r, size_t i)
{
    if (!r || R(r)->type != REDIS_REPLY_ARRAY || i >= R(r)->elements)
        return NULL;
    return (const store_reply_t *)(const void *)R(r)->element[i];
}

int store_ok(const store_reply_t *rep) { return rep && R(rep)->type != REDIS_REPLY_ERROR; }

int store_is_up(void) { return S.up[ROLE_CMD] && S.up[ROLE_SUB]; }

/* ---------------- deferred NULL answers ---------------- */

static void defer_run(uv_timer_t *t)
{
    (void)t;
    deferred_t *d = S.dhead;
    S.dhead = NULL;
    S.dtail = &S.dhead;
    while (d) {
        deferred_t *next = d->next;
        d->cb(NULL, d->priv);
        free(d);
        d = next;
    }
}

/* Answers cb with NULL later, on the loop (never re-entering the caller). */
static void defer_null(store_cb cb, void *priv)
{
    if (!cb)
        return;
    if (S.closing || !S.opened) {
        cb(NULL, priv); /* shutdown: nothing will run later */
        return;
    }
    deferred_t *d = malloc(sizeof *d);
    if (!d) {
        cb(NULL, priv);
        return;
    }
    d->next = NULL;
    d->cb = cb;
    d->priv = priv;
    *S.dtail = d;
    S.dtail = &d->next;
    uv_timer_start(&S.defer, defer_run, 0, 0);
}

/* ---------------- subscription barriers ---------------- */

static void barrier_run(int all)
{
    while (S.bhead && (all || S.bhead->target <= S.sub_confirmed)) {
        barrier_t *b = S.bhead;
        S.bhead = b->next;
        if (!S.bhead)
            S.btail = &S.bhead;
        defer_null(b->cb, b->priv);
        free(b);
    }
}

void store_sub_barrier(store_cb cb, void *priv)
{
    barrier_t *b;
    if (S.closing || !S.up[ROLE_SUB] || S.sub_confirmed >= S.sub_sent || !(b = malloc(sizeof *b))) {
        defer_null(cb, priv);
        return;
    }
    b->next = NULL;
    b->target = S.sub_sent;
    b->cb = cb;
    b->priv = priv;
    *S.btail = b;
    S.btail = &b->next;
}

/* ---------------- liveness ----------------
 *
 * A Redis that stops answering without closing the connection (a paused VM, a partition) would otherwise
 * hold every request and every event forever. Every command on the command connection is counted until
 * its answer comes; if something is pending and nothing came back for redis-timeout, the connection is
 * dropped: hiredis answers everything pending with NULL (clients get `unavailable`), store_is_up says 0
 * (/healthz: 503), and the usual reconnection takes over, so the node recovers by itself once Redis
 * answers again. A PING every redis-ping-interval makes sure something is pending on a quiet connection.
 * The pub/sub connection is checked with a heartbeat: the command connection publishes on this process's
 * own channel and the pub/sub connection must see it within redis-timeout. */

static void cmd_sent(void)
{
    if (S.pending++ == 0)
        S.progress_at = uv_now(S.loop);
}

/* Called first by every callback of a command sent on the command connection. */
static void cmd_answered(const redisAsyncContext *ac, const void *reply)
{
    if (reply && ac == S.ac[ROLE_CMD] && S.pending) {
        S.pending--;
        S.progress_at = uv_now(S.loop);
    }
}

static void noop_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    cmd_answered(ac, reply);
}

/* redisAsyncCommandArgv on the command connection, counted. fn may be NULL (the answer is only counted). */
static int cmd_argv(redisCallbackFn *fn, void *priv, int argc, const char **argv, const size_t *lens)
{
    if (redisAsyncCommandArgv(S.ac[ROLE_CMD], fn ? fn : noop_reply, priv, argc, argv, lens) != REDIS_OK)
        return -1;
    cmd_sent();
    return 0;
}

/* Forgets connection role at once (no command is sent on it any more) and frees it: hiredis answers its
 * pending callbacks with NULL and calls on_disconnect, which schedules the reconnection. */
static void drop_connection(int role, const char *why)
{
    redisAsyncContext *ac = S.ac[role];
    if (!ac)
        return;
    log_warn("store: Redis %s connection %s: dropping it", role_name[role], why);
    S.ac[role] = NULL;
    S.up[role] = 0;
    if (role == ROLE_CMD)
        S.pending = 0;
    else
        S.hb_outstanding = 0;
    redisAsyncFree(ac);
}

static void live_fire(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_now(S.loop);
    if (S.ac[ROLE_CMD] && S.up[ROLE_CMD] && S.pending && now - S.progress_at > S.timeout_ms)
        drop_connection(ROLE_CMD, "stopped answering");
    if (S.ac[ROLE_SUB] && S.up[ROLE_SUB] && S.hb_outstanding && now - S.hb_sent_at > S.timeout_ms)
        drop_connection(ROLE_SUB, "stopped delivering");
    if (!S.ac[ROLE_CMD] || !S.up[ROLE_CMD])
        return;
    if (!S.pending)
        cmd_argv(NULL, NULL, 1, (const char *[]){"PING"}, (const size_t[]){4});
    /* Only once the heartbeat channel is subscribed: a heartbeat published before would be lost. */
    if (S.ac[ROLE_SUB] && S.up[ROLE_SUB] && S.hb_ready && !S.hb_outstanding) {
        const char *argv[] = {"PUBLISH", S.hb_channel, "1"};
        const size_t lens[] = {7, strlen(S.hb_channel), 1};
        if (cmd_argv(NULL, NULL, 3, argv, lens) == 0) {
            S.hb_outstanding = 1;
            S.hb_sent_at = now;
        }
    }
}

void store_set_liveness(unsigned ping_interval_ms, unsigned timeout_ms)
{
    S.ping_ms = ping_interval_ms;
    S.timeout_ms = timeout_ms;
}

/* ---------------- commands ---------------- */

typedef struct {
    store_cb cb;
    void *priv;
} wrap_t;

static void cmd_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    cmd_answered(ac, reply);
    wrap_t *w = privdata;
    w->cb((const store_reply_t *)reply, w->priv);
    free(w);
}

static int cmd_usable(void) { return !S.closing && S.ac[ROLE_CMD] && S.up[ROLE_CMD]; }

void store_cmd(store_cb cb, void *priv, int argc, const char **argv, const size_t *argvlen)
{
    if (!cmd_usable()) {
        defer_null(cb, priv);
        return;
    }
    wrap_t *w = NULL;
    if (cb && !(w = malloc(sizeof *w))) {
        defer_null(cb, priv);
        return;
    }
    if (w) {
        w->cb = cb;
        w->priv = priv;
    }
    if (cmd_argv(w ? cmd_reply : NULL, w, argc, argv, argvlen) < 0) {
        free(w);
        defer_null(cb, priv);
    }
}

void store_cmdf(store_cb cb, void *priv, const char *fmt, ...)
{
    if (!cmd_usable()) {
        defer_null(cb, priv);
        return;
    }
    wrap_t *w = NULL;
    if (cb && !(w = malloc(sizeof *w))) {
        defer_null(cb, priv);
        return;
    }
    if (w) {
        w->cb = cb;
        w->priv = priv;
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(S.ac[ROLE_CMD], w ? cmd_reply : noop_reply, w, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(w);
        defer_null(cb, priv);
        return;
    }
    cmd_sent();
}

/* ---------------- the Functions library ---------------- */

static void lib_loaded(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    cmd_answered(ac, reply);
    redisReply *r = reply;
    /* A refused library is a bug in signalling/lua/ (tests load it) or a Redis without Functions: every
     * FCALL will then be answered with Redis's error. */
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("store: Redis refused the Lua library (FUNCTION LOAD): %s", r->str);
}

/* Queues FUNCTION LOAD REPLACE of the whole library on ac. Redis runs one connection's commands in order,
 * so whatever is queued after it finds the library in place. Returns 0, or -1 if it could not be queued. */
static int lib_load(redisAsyncContext *ac)
{
    const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", lua_library};
    const size_t lens[] = {8, 4, 7, lua_library_len};
    if (redisAsyncCommandArgv(ac, lib_loaded, NULL, 4, argv, lens) != REDIS_OK)
        return -1;
    if (ac == S.ac[ROLE_CMD])
        cmd_sent();
    S.lib_loads++;
    return 0;
}

/* ---------------- function calls ---------------- */

typedef struct {
    store_cb cb;
    void *priv;
    uint64_t loads; /* S.lib_loads when last sent: a reload queued since then precedes the retry */
    int retried;
    int durable;    /* store_fcall_durable: answered only after WAIT confirmed the replicas */
    redisReply *kept; /* durable: the function's answer, copied, while WAIT runs */
    int argc;       /* 3 + nkeys + nargs: FCALL name numkeys keys… args… */
    const char **argv; /* point into the same allocation */
    size_t *lens;
} fcall_t;

static void fcall_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Sends f, or answers it with NULL later (and frees it) if it cannot be sent. */
static void fcall_send(fcall_t *f)
{
    f->loads = S.lib_loads;
    if (!cmd_usable() || cmd_argv(fcall_reply, f, f->argc, f->argv, f->lens) < 0) {
        store_cb cb = f->cb;
        void *priv = f->priv;
        free(f);
        defer_null(cb, priv); /* cb may be NULL: defer_null checks */
    }
}

/* ---- durability: WAIT after a write, and a private copy of its answer meanwhile ---- */

static void reply_free(redisReply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->elements; i++)
        reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* A deep copy of r (hiredis frees its own once the callback returns), or NULL when out of memory. */
static redisReply *reply_copy(const redisReply *r)
{
    redisReply *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->type = r->type;
    c->integer = r->integer;
    if (r->str) {
        if (!(c->str = malloc(r->len + 1))) {
            free(c);
            return NULL;
        }
        memcpy(c->str, r->str, r->len);
        c->str[r->len] = '\0';
        c->len = r->len;
    }
    if (r->elements) {
        if (!(c->element = calloc(r->elements, sizeof *c->element))) {
            reply_free(c);
            return NULL;
        }
        for (size_t i = 0; i < r->elements; i++, c->elements++)
            if (!(c->element[i] = reply_copy(r->element[i]))) {
                reply_free(c);
                return NULL;
            }
    }
    return c;
}

/* WAIT answered: the write is on enough replicas (then the kept answer goes out), or not (NULL: the
 * caller answers unavailable; the write itself may still survive). */
static void wait_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    cmd_answered(ac, reply);
    fcall_t *f = privdata;
    redisReply *r = reply;
    int safe = r && r->type == REDIS_REPLY_INTEGER && r->integer >= (long long)S.wait_replicas;
    static unsigned long short_streak; /* logged once per streak: every message would say the same */
    if (r && !safe && short_streak++ == 0)
        log_warn("store: %s: WAIT saw %lld of %u replicas within %u ms: not acknowledged (and so on until "
                 "the replicas are back)", f->argv[1], r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL,
                 S.wait_replicas, S.wait_ms);
    if (safe && short_streak) {
        log_info("store: the replicas confirm writes again (%lu writes were not acknowledged)", short_streak);
        short_streak = 0;
    }
    if (f->cb)
        f->cb(safe ? (const store_reply_t *)(const void *)f->kept : NULL, f->priv);
    reply_free(f->kept);
    free(f);
}

/* A durable call's success: keep the answer, send WAIT behind it. 0, or -1 (then answer as usual). */
static int wait_for_replicas(fcall_t *f, const redisReply *r)
{
    char n[16], ms[16];
    snprintf(n, sizeof n, "%u", S.wait_replicas);
    snprintf(ms, sizeof ms, "%u", S.wait_ms);
    const char *argv[] = {"WAIT", n, ms};
    const size_t lens[] = {4, strlen(n), strlen(ms)};
    if (!(f->kept = reply_copy(r)))
        return -1;
    if (!cmd_usable() || cmd_argv(wait_reply, f, 3, argv, lens) < 0) {
        reply_free(f->kept);
        f->kept = NULL;
        return -1;
    }
    return 0;
}

static void fcall_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    cmd_answered(ac, reply);
    fcall_t *f = privdata;
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR && !f->retried && strncmp(r->str, "ERR Function not found", 22) == 0) {
        /* The library is gone although it was loaded when this connection came up (someone ran FUNCTION
         * FLUSH or FUNCTION DELETE): load it again — once for all the calls sent before that load — and
         * send this call once more behind it. */
        f->retried = 1;
        if (f->loads == S.lib_loads && cmd_usable()) {
            log_warn("store: Redis lost the Lua library; loading it again");
            lib_load(ac); /* if it cannot be queued, the retry fails the same way and is answered */
        }
        fcall_send(f);
        return;
    }
    if (r && r->type == REDIS_REPLY_ERROR)
        log_debug("store: function %s: %s", f->argv[1], r->str);
    if (r && r->type != REDIS_REPLY_ERROR && f->durable && S.wait_replicas) {
        if (wait_for_replicas(f, r) == 0)
            return; /* answered by wait_reply */
        reply = NULL; /* cannot confirm it: not acknowledged */
    }
    if (f->cb)
        f->cb((const store_reply_t *)reply, f->priv);
    free(f);
}

static void fcall_start(const char *fn, store_cb cb, void *priv, int nkeys, int nargs, const char **args,
                        int durable);

void store_fcall(const char *fn, store_cb cb, void *priv, int nkeys, int nargs, const char **args)
{
    fcall_start(fn, cb, priv, nkeys, nargs, args, 0);
}

void store_fcall_durable(const char *fn, store_cb cb, void *priv, int nkeys, int nargs, const char **args)
{
    fcall_start(fn, cb, priv, nkeys, nargs, args, 1);
}

void store_set_durability(unsigned replicas, unsigned timeout_ms)
{
    S.wait_replicas = replicas;
    S.wait_ms = timeout_ms;
}

static void fcall_start(const char *fn, store_cb cb, void *priv, int nkeys, int nargs, const char **args,
                        int durable)
{
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    int argc = 3 + nkeys + nargs;
    const char *src[3] = {"FCALL", fn, nk};
    /* One allocation: the struct, argv, lens, then the strings they point to. */
    size_t bytes = sizeof(fcall_t) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < argc; i++) {
        const char *a = i < 3 ? src[i] : args[i - 3];
        bytes += strlen(a ? a : "") + 1;
    }
    fcall_t *f = malloc(bytes);
    if (!f) {
        defer_null(cb, priv);
        return;
    }
    f->cb = cb;
    f->priv = priv;
    f->retried = 0;
    f->durable = durable;
    f->kept = NULL;
    f->argc = argc;
    f->argv = (const char **)(void *)(f + 1);
    f->lens = (size_t *)(void *)(f->argv + argc);
    char *p = (char *)(f->lens + argc);
    for (int i = 0; i < argc; i++) {
        const char *a = i < 3 ? src[i] : args[i - 3];
        if (!a)
            a = "";
        size_t n = strlen(a);
        memcpy(p, a, n + 1);
        f->argv[i] = p;
        f->lens[i] = n;
        p += n + 1;
    }
    fcall_send(f);
}

/* ---------------- connections ---------------- */

static void connect_role(int role);

static int sentinel_mode(void) { return S.nsentinels > 0; }
static void sentinel_query_next(void);

static void connect_missing(void)
{
    for (int role = 0; role < 2; role++)
        if (!S.ac[role])
            connect_role(role);
}

/* Reconnecting: straight to the fixed address, or (Sentinel mode) to whatever the Sentinels name as
 * the master now. */
static void retry_fire(uv_timer_t *t)
{
    (void)t;
    if (!sentinel_mode()) {
        connect_missing();
    } else if ((!S.ac[ROLE_CMD] || !S.ac[ROLE_SUB]) && !S.sentinel_ac) {
        S.sentinel_tried = 0;
        sentinel_query_next();
    }
}

static void schedule_retry(void)
{
    if (S.closing || uv_is_active((uv_handle_t *)&S.retry))
        return;
    uv_timer_start(&S.retry, retry_fire, S.backoff_ms, 0);
    /* Following a failover: the new master is there within seconds, do not wait 5 s to look again. */
    unsigned cap = sentinel_mode() ? BACKOFF_SENTINEL_MAX_MS : BACKOFF_MAX_MS;
    S.backoff_ms = S.backoff_ms * 2 > cap ? cap : S.backoff_ms * 2;
}

static void note_state(void)
{
    int up = S.up[ROLE_CMD] && S.up[ROLE_SUB];
    if (up && !S.was_up)
        log_info("store: Redis %s:%d is up", S.host, S.port);
    else if (!up && S.was_up)
        log_warn("store: Redis %s:%d is down; retrying with back-off", S.host, S.port);
    S.was_up = up;
}

static void ready_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    int role = *(int *)ac->data;
    redisReply *r = reply;
    cmd_answered(ac, reply);
    if (!r)
        return; /* the context is going away; the disconnect path retries */
    if (r->type == REDIS_REPLY_ERROR) {
        log_error("store: Redis %s connection refused our handshake: %s", role_name[role], r->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (S.not_master[role])
        return; /* role_reply is disconnecting it */
    S.up[role] = 1;
    if (role == ROLE_SUB) {
        S.sub_sent = S.sub_confirmed = 0;
        S.hb_outstanding = S.hb_ready = 0;
        store_subscribe(S.hb_channel); /* the liveness heartbeat's channel */
    }
    if (S.up[ROLE_CMD] && S.up[ROLE_SUB])
        S.backoff_ms = BACKOFF_MIN_MS;
    note_state();
    if (role == ROLE_SUB && S.on_sub_up)
        S.on_sub_up();
    if (role == ROLE_CMD && S.on_up)
        S.on_up();
}

static void auth_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    redisReply *r = reply;
    cmd_answered(ac, reply);
    if (r && r->type == REDIS_REPLY_ERROR) {
        /* The message names the problem (e.g. WRONGPASS); it never contains the password. */
        log_error("store: Redis AUTH failed: %s", r->str);
        redisAsyncDisconnect(ac);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    int role = *(int *)ac->data;
    if (status != REDIS_OK) {
        log_debug("store: connecting %s to %s:%d failed: %s", role_name[role], S.host, S.port, ac->errstr);
        S.ac[role] = NULL; /* hiredis frees it */
        schedule_retry();
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    int role = *(int *)ac->data;
    if (S.ac[role] == ac) {
        S.ac[role] = NULL;
        S.up[role] = 0;
        if (role == ROLE_CMD)
            S.pending = 0;
    }
    if (role == ROLE_SUB)
        barrier_run(1);
    if (S.closing) {
        if (!S.ac[ROLE_CMD] && !S.ac[ROLE_SUB] && !uv_is_closing((uv_handle_t *)&S.grace))
            uv_close((uv_handle_t *)&S.grace, NULL);
        return;
    }
    note_state();
    /* Sentinel mode: both connections follow the master together; the one still open may lead to an
     * instance that is no longer the master. */
    if (sentinel_mode())
        drop_connection(role == ROLE_CMD ? ROLE_SUB : ROLE_CMD, "following the other one to the master");
    schedule_retry();
}

/* ---------------- Sentinel: finding the master ----------------
 *
 * The Sentinels are asked in turn (SENTINEL get-master-addr-by-name) until one answers; both
 * connections then go to that address and check with ROLE that it is the master indeed (a Sentinel may
 * lag behind a failover, and a paused old master may still believe it is one). Whenever a connection goes
 * down, both are dropped and the Sentinels asked again: that is how a failover is followed (the Functions
 * library is loaded and the channels subscribed again on the new master, as after any reconnection). */

static void role_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    int role = *(int *)ac->data;
    redisReply *r = reply;
    cmd_answered(ac, reply);
    if (!r)
        return;
    const char *what = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING
                           ? r->element[0]->str
                           : "?";
    if (strcmp(what, "master") != 0) {
        log_warn("store: %s:%d is a %s, not the master: asking the Sentinels again", S.host, S.port, what);
        S.not_master[role] = 1;
        redisAsyncDisconnect(ac);
    }
}

static void sentinel_on_connect(const redisAsyncContext *ac, int status)
{
    if (status == REDIS_OK || S.sentinel_ac != ac)
        return;
    S.sentinel_ac = NULL; /* hiredis frees it */
    sentinel_query_next();
}

static void sentinel_on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    if (S.sentinel_ac != ac)
        return; /* done with it already */
    S.sentinel_ac = NULL;
    if (!S.closing)
        sentinel_query_next();
}

static void sentinel_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)privdata;
    redisReply *r = reply;
    if (!r || S.sentinel_ac != ac)
        return; /* going away: sentinel_on_disconnect goes on */
    S.sentinel_ac = NULL;
    redisAsyncDisconnect(ac);
    if (r->type == REDIS_REPLY_ERROR) { /* NOAUTH, WRONGPASS (never contains the password)… */
        log_warn("store: a Sentinel answers: %s", r->str);
        sentinel_query_next();
        return;
    }
    int port = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING)
        port = atoi(r->element[1]->str);
    if (port <= 0 || port > 65535) {
        log_warn("store: a Sentinel does not know master '%s'", S.master_name);
        sentinel_query_next();
        return;
    }
    if (!S.host || strcmp(S.host, r->element[0]->str) != 0 || S.port != port) {
        char *host = strdup(r->element[0]->str);
        if (!host) {
            schedule_retry();
            return;
        }
        log_info("store: the Sentinels name %s:%d as master '%s'", host, port, S.master_name);
        drop_connection(ROLE_CMD, "leads to the old master");
        drop_connection(ROLE_SUB, "leads to the old master");
        free(S.host);
        S.host = host;
        S.port = port;
    }
    S.sentinel_tried = 0;
    connect_missing();
}

/* Asks the next Sentinel; after a whole round without an answer, waits (back-off) and starts again. */
static void sentinel_query_next(void)
{
    if (S.closing || S.sentinel_ac)
        return;
    if (S.sentinel_tried >= S.nsentinels) {
        S.sentinel_tried = 0;
        log_debug("store: no Sentinel named a master; retrying with back-off");
        schedule_retry();
        return;
    }
    size_t i = S.sentinel_next++ % S.nsentinels;
    S.sentinel_tried++;
    redisAsyncContext *ac = redisAsyncConnect(S.sentinel_host[i], S.sentinel_port[i]);
    if (!ac || ac->err || redisLibuvAttach(ac, S.loop) != REDIS_OK) {
        if (ac)
            redisAsyncFree(ac);
        sentinel_query_next();
        return;
    }
    redisAsyncSetConnectCallback(ac, sentinel_on_connect);
    redisAsyncSetDisconnectCallback(ac, sentinel_on_disconnect);
    /* AUTH goes ahead of the question on the same connection: a refused AUTH makes the question fail with
     * NOAUTH, which sentinel_reply logs; its own answer needs no callback. */
    if (*S.sentinel_password && redisAsyncCommand(ac, NULL, NULL, "AUTH %s", S.sentinel_password) != REDIS_OK) {
        redisAsyncFree(ac);
        sentinel_query_next();
        return;
    }
    if (redisAsyncCommand(ac, sentinel_reply, NULL, "SENTINEL get-master-addr-by-name %s", S.master_name) != REDIS_OK) {
        redisAsyncFree(ac);
        sentinel_query_next();
        return;
    }
    S.sentinel_ac = ac;
    S.sentinel_started = uv_now(S.loop);
}

static void sentinels_free(void);

int store_set_sentinels(const char *const *addrs, size_t n, const char *master_name, const char *password)
{
    if (!n)
        return 0;
    S.sentinel_host = calloc(n, sizeof *S.sentinel_host);
    S.sentinel_port = calloc(n, sizeof *S.sentinel_port);
    S.master_name = strdup(master_name);
    S.sentinel_password = strdup(password ? password : "");
    if (!S.sentinel_host || !S.sentinel_port || !S.master_name || !S.sentinel_password)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strrchr(addrs[i], ':');
        int port = colon ? atoi(colon + 1) : 26379;
        size_t hl = colon ? (size_t)(colon - addrs[i]) : strlen(addrs[i]);
        if (port <= 0 || port > 65535 || !hl || !(S.sentinel_host[i] = strndup(addrs[i], hl)))
            goto fail;
        S.sentinel_port[i] = port;
        S.nsentinels = i + 1;
    }
    return 0;
fail:
    S.nsentinels = n; /* free every slot (unset ones are NULL) */
    sentinels_free();
    return -1;
}

static void sentinels_free(void)
{
    for (size_t i = 0; i < S.nsentinels; i++)
        free(S.sentinel_host[i]);
    free(S.sentinel_host);
    free(S.sentinel_port);
    free(S.master_name);
    if (S.sentinel_password)
        explicit_bzero(S.sentinel_password, strlen(S.sentinel_password));
    free(S.sentinel_password);
    S.sentinel_host = NULL;
    S.sentinel_port = NULL;
    S.master_name = NULL;
    S.sentinel_password = NULL;
    S.nsentinels = 0;
}

static void sub_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    (void)privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(r->element[0]->str, "subscribe") == 0) {
        if (r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[1]->str, S.hb_channel) == 0)
            S.hb_ready = 1;
        S.sub_confirmed++;
        barrier_run(0);
        return;
    }
    if (strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    if (r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[1]->str, S.hb_channel) == 0) {
        S.hb_outstanding = 0; /* the pub/sub connection delivers */
        return;
    }
    if (S.on_message)
        S.on_message(r->element[1]->str, r->element[2]->str, r->element[2]->len);
}

static void connect_role(int role)
{
    redisAsyncContext *ac = redisAsyncConnect(S.host, S.port);
    if (!ac || ac->err) {
        log_debug("store: cannot start connecting to %s:%d: %s", S.host, S.port, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry();
        return;
    }
    ac->data = &role_ids[role];
    if (redisLibuvAttach(ac, S.loop) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry();
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    S.ac[role] = ac;
    S.up[role] = 0;
    S.not_master[role] = 0;
    S.started[role] = uv_now(S.loop);
    if (role == ROLE_CMD)
        S.pending = 0; /* the handshake below is counted from here */
    /* Queued now, sent once connected; the PING's answer marks the connection usable. The command
     * connection loads the Functions library first, so it is in place before any FCALL is sent (until
     * the PING's answer, calls are answered NULL: Redis is not up yet). */
    if (S.password && *S.password && redisAsyncCommand(ac, auth_reply, NULL, "AUTH %s", S.password) == REDIS_OK &&
        role == ROLE_CMD)
        cmd_sent();
    if (sentinel_mode() && redisAsyncCommand(ac, role_reply, NULL, "ROLE") == REDIS_OK && role == ROLE_CMD)
        cmd_sent();
    if (role == ROLE_CMD)
        lib_load(ac); /* if it cannot be queued, the first FCALL's "not found" loads it */
    if (redisAsyncCommand(ac, ready_reply, NULL, "PING") == REDIS_OK && role == ROLE_CMD)
        cmd_sent();
}

/* hiredis 0.14's libuv adapter drops poll errors, so a refused or lost connection attempt can hang
 * in "connecting" for ever: give each attempt a deadline and start over after it. */
static void watchdog_fire(uv_timer_t *t)
{
    (void)t;
    for (int role = 0; role < 2; role++) {
        if (S.ac[role] && !S.up[role] && uv_now(S.loop) - S.started[role] > HANDSHAKE_TIMEOUT_MS) {
            log_debug("store: %s connection attempt timed out", role_name[role]);
            redisAsyncContext *ac = S.ac[role];
            S.ac[role] = NULL;
            redisAsyncFree(ac);
            schedule_retry();
        }
    }
    if (S.sentinel_ac && uv_now(S.loop) - S.sentinel_started > HANDSHAKE_TIMEOUT_MS) {
        log_debug("store: a Sentinel did not answer in time");
        redisAsyncContext *ac = S.sentinel_ac;
        S.sentinel_ac = NULL;
        redisAsyncFree(ac);
        sentinel_query_next();
    }
}

int store_open(uv_loop_t *loop, const char *host, int port, const char *password)
{
    store_message_fn on_message = S.on_message; /* handlers may be set before opening */
    store_sub_up_fn on_sub_up = S.on_sub_up;
    store_up_fn on_up = S.on_up;
    /* Settings made before opening (store_set_*) survive the reset. */
    unsigned ping_ms = S.ping_ms ? S.ping_ms : 1000, timeout_ms = S.timeout_ms ? S.timeout_ms : 3000;
    unsigned wait_replicas = S.wait_replicas, wait_ms = S.wait_ms;
    char **sentinel_host = S.sentinel_host, *master_name = S.master_name, *sentinel_password = S.sentinel_password;
    int *sentinel_port = S.sentinel_port;
    size_t nsentinels = S.nsentinels;
    memset(&S, 0, sizeof S);
    S.ping_ms = ping_ms;
    S.timeout_ms = timeout_ms;
    S.wait_replicas = wait_replicas;
    S.wait_ms = wait_ms;
    S.sentinel_host = sentinel_host;
    S.sentinel_port = sentinel_port;
    S.master_name = master_name;
    S.sentinel_password = sentinel_password;
    S.nsentinels = nsentinels;
    {
        uint64_t r = ((uint64_t)uv_hrtime() << 20) ^ ((uint64_t)(uintptr_t)&S) ^ (uint64_t)getpid();
        snprintf(S.hb_channel, sizeof S.hb_channel, "store:hb:%016llx", (unsigned long long)r);
    }
    S.on_message = on_message;
    S.on_sub_up = on_sub_up;
    S.on_up = on_up;
    S.loop = loop;
    S.host = strdup(host);
    S.password = strdup(password ? password : "");
    S.port = port;
    S.dtail = &S.dhead;
    S.btail = &S.bhead;
    S.backoff_ms = BACKOFF_MIN_MS;
    if (!S.host || !S.password) {
        free(S.host);
        free(S.password);
        return -1;
    }
    uv_timer_init(loop, &S.retry);
    uv_timer_init(loop, &S.defer);
    uv_timer_init(loop, &S.grace);
    uv_timer_init(loop, &S.watchdog);
    uv_timer_start(&S.watchdog, watchdog_fire, 500, 500);
    uv_timer_init(loop, &S.live);
    uv_timer_start(&S.live, live_fire, S.ping_ms, S.ping_ms);
    S.opened = 1;
    if (sentinel_mode()) {
        sentinel_query_next(); /* connects both once a Sentinel names the master */
    } else {
        connect_role(ROLE_CMD);
        connect_role(ROLE_SUB);
    }
    return 0;
}

static void grace_fire(uv_timer_t *t)
{
    (void)t;
    /* Redis did not answer what was queued in time: give up on it. */
    for (int role = 0; role < 2; role++)
        if (S.ac[role])
            redisAsyncFree(S.ac[role]);
    S.ac[ROLE_CMD] = S.ac[ROLE_SUB] = NULL;
    if (!uv_is_closing((uv_handle_t *)&S.grace))
        uv_close((uv_handle_t *)&S.grace, NULL);
}

void store_close(void)
{
    if (!S.opened || S.closing)
        return;
    barrier_run(1);
    defer_run(NULL);
    S.closing = 1;
    uv_close((uv_handle_t *)&S.retry, NULL);
    uv_close((uv_handle_t *)&S.defer, NULL);
    uv_close((uv_handle_t *)&S.watchdog, NULL);
    uv_close((uv_handle_t *)&S.live, NULL);
    if (S.sentinel_ac) {
        redisAsyncContext *ac = S.sentinel_ac;
        S.sentinel_ac = NULL;
        redisAsyncFree(ac);
    }
    sentinels_free();
    if (S.ac[ROLE_SUB])
        redisAsyncFree(S.ac[ROLE_SUB]); /* nothing to flush on the pub/sub connection */
    S.ac[ROLE_SUB] = NULL;
    if (S.ac[ROLE_CMD])
        redisAsyncDisconnect(S.ac[ROLE_CMD]); /* sends what is queued, waits for the answers */
    if (S.ac[ROLE_CMD] || S.ac[ROLE_SUB])
        uv_timer_start(&S.grace, grace_fire, CLOSE_GRACE_MS, 0);
    else if (!uv_is_closing((uv_handle_t *)&S.grace))
        uv_close((uv_handle_t *)&S.grace, NULL);
    free(S.host);
    free(S.password);
    S.host = S.password = NULL;
}

/* ---------------- pub/sub ---------------- */

void store_set_handlers(store_message_fn on_message, store_sub_up_fn on_sub_up, store_up_fn on_up)
{
    S.on_message = on_message;
    S.on_sub_up = on_sub_up;
    S.on_up = on_up;
}

void store_subscribe(const char *channel)
{
    if (!S.closing && S.ac[ROLE_SUB] && S.up[ROLE_SUB] &&
        redisAsyncCommand(S.ac[ROLE_SUB], sub_message, NULL, "SUBSCRIBE %s", channel) == REDIS_OK)
        S.sub_sent++;
}

void store_unsubscribe(const char *channel)
{
    if (!S.closing && S.ac[ROLE_SUB] && S.up[ROLE_SUB])
        redisAsyncCommand(S.ac[ROLE_SUB], sub_message, NULL, "UNSUBSCRIBE %s", channel);
}
