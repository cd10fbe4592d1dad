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
    int hb_outstanding;   /* a heartbeat was published and the pub/sub connection has not seen it yet */
    uint64_t hb_sent_at;
    char hb_channel[48];  /* store:hb:<random>: this process's own heartbeat channel */
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
    if (S.ac[ROLE_SUB] && S.up[ROLE_SUB] && !S.hb_outstanding) {
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
    if (f->cb)
        f->cb((const store_reply_t *)reply, f->priv);
    free(f);
}

void store_fcall(const char *fn, store_cb cb, void *priv, int nkeys, int nargs, const char **args)
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

static void retry_fire(uv_timer_t *t)
{
    (void)t;
    for (int role = 0; role < 2; role++)
        if (!S.ac[role])
            connect_role(role);
}

static void schedule_retry(void)
{
    if (S.closing || uv_is_active((uv_handle_t *)&S.retry))
        return;
    uv_timer_start(&S.retry, retry_fire, S.backoff_ms, 0);
    S.backoff_ms = S.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : S.backoff_ms * 2;
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
    S.up[role] = 1;
    if (role == ROLE_SUB) {
        S.sub_sent = S.sub_confirmed = 0;
        S.hb_outstanding = 0;
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
    schedule_retry();
}

static void sub_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    (void)privdata;
    redisReply *r = reply;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(r->element[0]->str, "subscribe") == 0) {
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
    S.started[role] = uv_now(S.loop);
    if (role == ROLE_CMD)
        S.pending = 0; /* the handshake below is counted from here */
    /* Queued now, sent once connected; the PING's answer marks the connection usable. The command
     * connection loads the Functions library first, so it is in place before any FCALL is sent (until
     * the PING's answer, calls are answered NULL: Redis is not up yet). */
    if (S.password && *S.password && redisAsyncCommand(ac, auth_reply, NULL, "AUTH %s", S.password) == REDIS_OK &&
        role == ROLE_CMD)
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
}

int store_open(uv_loop_t *loop, const char *host, int port, const char *password)
{
    store_message_fn on_message = S.on_message; /* handlers may be set before opening */
    store_sub_up_fn on_sub_up = S.on_sub_up;
    store_up_fn on_up = S.on_up;
    unsigned ping_ms = S.ping_ms ? S.ping_ms : 1000, timeout_ms = S.timeout_ms ? S.timeout_ms : 3000;
    memset(&S, 0, sizeof S);
    S.ping_ms = ping_ms;
    S.timeout_ms = timeout_ms;
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
    connect_role(ROLE_CMD);
    connect_role(ROLE_SUB);
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
