/* pg.c — see pg.h. libpq's asynchronous API on a uv_poll.
 *
 * The connection goes OFF → CONNECTING (PQconnectPoll) → MIGRATING (the schema, in-band on the same queue)
 * → UP, and on any failure to WAITING (a back-off timer) then CONNECTING again. One query is in flight at a
 * time: libpq's pipeline mode would allow more, but one archiver and a few history reads per node do not
 * need it, and one-at-a-time keeps "exactly once, in order" obvious. */
#include "pg.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sql_migrations.h"

#define BACKOFF_MIN_MS 100
/* The advisory lock key of the migrations: any constant of our own ("staffrm" in ASCII). */
#define MIGRATION_LOCK_KEY "32199629779823981"

struct pg_result {
    PGresult *res;
};

typedef struct query {
    struct query *next;
    char *sql;
    int nparams;
    char **params;
    pg_cb cb;
    void *priv;
    int simple;   /* several statements, no parameters (a migration): PQsendQuery */
    int internal; /* part of the connection's own set-up: allowed while MIGRATING */
} query_t;

enum state { ST_OFF, ST_CONNECTING, ST_MIGRATING, ST_UP, ST_WAITING };

static struct {
    uv_loop_t *loop;
    char *conninfo;
    PGconn *conn;
    uv_poll_t *poll; /* allocated: a closing handle outlives the next one */
    int poll_fd;
    enum state st;
    int opened, closing, was_up;
    unsigned backoff_ms, backoff_max_ms;
    unsigned timeout_ms;
    uint64_t started_at;   /* loop time the connection attempt, or the query in flight, started */
    uv_timer_t retry, defer, watchdog;
    query_t *head, **tail; /* head is in flight once sent */
    int sent;
    PGresult *last;        /* the in-flight query's last result so far */
    int failed;            /* one of its results was an error */
    query_t *dhead, **dtail; /* refused queries, failed from the defer timer */
    int schema_version;
} P = {.tail = &P.head, .dtail = &P.dhead};

static void on_poll(uv_poll_t *h, int status, int events);
static void start_connect(void);

int pg_configured(void) { return P.opened; }
int pg_is_up(void) { return P.st == ST_UP; }
int pg_schema_version(void) { return P.schema_version; }

int pg_ntuples(const pg_result_t *r) { return r ? PQntuples(r->res) : 0; }
int pg_nfields(const pg_result_t *r) { return r ? PQnfields(r->res) : 0; }
const char *pg_value(const pg_result_t *r, int row, int col)
{
    if (!r || row < 0 || col < 0 || row >= PQntuples(r->res) || col >= PQnfields(r->res) ||
        PQgetisnull(r->res, row, col))
        return NULL;
    return PQgetvalue(r->res, row, col);
}
long long pg_affected(const pg_result_t *r)
{
    const char *s = r ? PQcmdTuples(r->res) : "";
    return *s ? strtoll(s, NULL, 10) : 0;
}

/* ---- queries ---- */

static void query_free(query_t *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->sql);
    free(q);
}

static query_t *query_new(const char *sql, int nparams, const char *const *params, pg_cb cb, void *priv)
{
    query_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->cb = cb;
    q->priv = priv;
    q->sql = strdup(sql);
    q->params = nparams ? calloc((size_t)nparams, sizeof *q->params) : NULL;
    if (!q->sql || (nparams && !q->params)) {
        query_free(q);
        return NULL;
    }
    q->nparams = nparams;
    for (int i = 0; i < nparams; i++) {
        if (params[i] && !(q->params[i] = strdup(params[i]))) {
            query_free(q);
            return NULL;
        }
    }
    return q;
}

/* Calls q's callback with res (may be NULL) and frees q. */
static void query_finish(query_t *q, PGresult *res)
{
    pg_result_t r = {res};
    if (q->cb)
        q->cb(res ? &r : NULL, q->priv);
    query_free(q);
}

static void defer_run(uv_timer_t *t)
{
    (void)t;
    query_t *list = P.dhead;
    P.dhead = NULL;
    P.dtail = &P.dhead;
    while (list) {
        query_t *q = list;
        list = q->next;
        query_finish(q, NULL);
    }
}

/* Answers q with NULL from the loop, not from inside the caller's pg_query. */
static void refuse(query_t *q)
{
    if (P.closing || !P.opened) { /* no loop to defer on: answer now (pg.h: before pg_open, after pg_close) */
        query_finish(q, NULL);
        return;
    }
    q->next = NULL;
    *P.dtail = q;
    P.dtail = &q->next;
    uv_timer_start(&P.defer, defer_run, 0, 0);
}

/* Fails every queued query, the one in flight included (the connection is gone). */
static void fail_queue(void)
{
    query_t *list = P.head;
    P.head = NULL;
    P.tail = &P.head;
    P.sent = 0;
    if (P.last) {
        PQclear(P.last);
        P.last = NULL;
    }
    while (list) {
        query_t *q = list;
        list = q->next;
        query_finish(q, NULL);
    }
}

/* ---- the socket ---- */

static void poll_closed(uv_handle_t *h) { free(h); }

static void poll_drop(void)
{
    if (P.poll) {
        uv_poll_stop(P.poll);
        uv_close((uv_handle_t *)P.poll, poll_closed);
        P.poll = NULL;
    }
}

/* Watches PQsocket for events (it may change while connecting: libpq tries host after host). */
static int poll_want(int events)
{
    int fd = PQsocket(P.conn);
    if (fd < 0)
        return -1;
    if (P.poll && P.poll_fd != fd)
        poll_drop();
    if (!P.poll) {
        if (!(P.poll = malloc(sizeof *P.poll)))
            return -1;
        if (uv_poll_init(P.loop, P.poll, fd) != 0) {
            free(P.poll);
            P.poll = NULL;
            return -1;
        }
        P.poll_fd = fd;
    }
    return uv_poll_start(P.poll, events, on_poll) == 0 ? 0 : -1;
}

static void retry_fire(uv_timer_t *t)
{
    (void)t;
    start_connect();
}

/* The connection failed or went away: fail what waits, and try again after the back-off. */
static void lost(const char *what)
{
    const char *why = P.conn ? PQerrorMessage(P.conn) : "";
    size_t n = strcspn(why, "\n");
    if (P.was_up || P.backoff_ms == BACKOFF_MIN_MS)
        log_warn("pg: %s%s%.*s; retrying in %u ms", what, n ? ": " : "", (int)n, why, P.backoff_ms);
    P.was_up = 0;
    P.st = ST_WAITING;
    poll_drop();
    if (P.conn) {
        PQfinish(P.conn);
        P.conn = NULL;
    }
    fail_queue();
    if (P.closing)
        return;
    uv_timer_start(&P.retry, retry_fire, P.backoff_ms, 0);
    P.backoff_ms = P.backoff_ms * 2 > P.backoff_max_ms ? P.backoff_max_ms : P.backoff_ms * 2;
}

/* Sends the head of the queue if nothing is in flight. */
static void pump(void)
{
    if (!P.head || P.sent || !P.conn)
        return;
    query_t *q = P.head;
    int ok = q->simple ? PQsendQuery(P.conn, q->sql)
                       : PQsendQueryParams(P.conn, q->sql, q->nparams, NULL, (const char *const *)q->params,
                                           NULL, NULL, 0);
    if (!ok) {
        lost("cannot send a query");
        return;
    }
    P.sent = 1;
    P.failed = 0;
    P.started_at = uv_now(P.loop);
    int f = PQflush(P.conn);
    if (f < 0 || poll_want(f == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE) < 0)
        lost("cannot send a query");
}

/* The in-flight query has all its results: answer it, send the next. */
static void complete_head(void)
{
    query_t *q = P.head;
    P.head = q->next;
    if (!P.head)
        P.tail = &P.head;
    P.sent = 0;
    PGresult *res = P.last;
    P.last = NULL;
    if (P.failed || !res) {
        if (res)
            PQclear(res);
        res = NULL;
    }
    query_finish(q, res);
    if (res)
        PQclear(res);
    pump();
}

/* Reads what arrived; completes every query whose results are all in. */
static void drain_results(void)
{
    if (!PQconsumeInput(P.conn)) {
        lost("connection lost");
        return;
    }
    while (P.conn && P.head && P.sent && !PQisBusy(P.conn)) {
        PGresult *res = PQgetResult(P.conn);
        if (!res) {
            complete_head();
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char *msg = PQresultErrorMessage(res);
            log_warn("pg: statement failed: %.*s", (int)strcspn(msg, "\n"), msg);
            P.failed = 1;
        }
        if (P.last)
            PQclear(P.last);
        P.last = res;
    }
    /* Notices and NOTIFYs are not used; drop them so they do not pile up. */
    PGnotify *n;
    while (P.conn && (n = PQnotifies(P.conn)))
        PQfreemem(n);
}

/* ---- connecting and migrating ---- */

static void enqueue(query_t *q)
{
    q->next = NULL;
    *P.tail = q;
    P.tail = &q->next;
    pump();
}

static void internal(const char *sql, int simple, pg_cb cb)
{
    query_t *q = query_new(sql, 0, NULL, cb, NULL);
    if (!q) {
        lost("out of memory");
        return;
    }
    q->simple = simple;
    q->internal = 1;
    enqueue(q);
}

static void migrated(const pg_result_t *res, void *priv)
{
    (void)priv;
    if (!res) {
        if (P.conn)
            lost("migration failed (see above)");
        return;
    }
    P.st = ST_UP;
    P.was_up = 1;
    P.backoff_ms = BACKOFF_MIN_MS;
    log_info("pg: connected, schema version %d", P.schema_version);
}

static void step_done(const pg_result_t *res, void *priv)
{
    (void)priv;
    if (!res && P.conn)
        lost("migration failed (see above)");
}

/* One migration as one transaction: its statements, then its row in schema_version. */
static void queue_migration(const pg_migration_t *m)
{
    size_t n = strlen(m->sql) + strlen(m->name) + 160;
    char *sql = malloc(n);
    if (!sql) {
        lost("out of memory");
        return;
    }
    snprintf(sql, n, "BEGIN;\n%s\n;INSERT INTO schema_version (version, name) VALUES (%d, '%s');\nCOMMIT;",
             m->sql, m->version, m->name);
    internal(sql, 1, step_done);
    free(sql);
}

static void got_version(const pg_result_t *res, void *priv)
{
    (void)priv;
    if (!res) {
        if (P.conn)
            lost("cannot read schema_version");
        return;
    }
    const char *v = pg_value(res, 0, 0);
    int cur = v ? atoi(v) : 0;
    for (size_t i = 0; i < pg_migrations_n; i++) {
        if (pg_migrations[i].version > cur) {
            log_info("pg: applying migration %03d_%s", pg_migrations[i].version, pg_migrations[i].name);
            queue_migration(&pg_migrations[i]);
            cur = pg_migrations[i].version;
        }
    }
    P.schema_version = cur;
    internal("SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", 0, migrated);
}

/* The lock is the session's: if this node dies while migrating, PostgreSQL releases it. */
static void migrate(void)
{
    P.st = ST_MIGRATING;
    /* Short statements only: JIT compiling one whose estimated cost looks high (a search's unused branch)
     * costs hundreds of milliseconds and saves nothing. */
    internal("SET jit = off", 0, step_done);
    internal("SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", 0, step_done);
    internal("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL, "
             "applied_at timestamptz NOT NULL DEFAULT now())",
             0, step_done);
    internal("SELECT coalesce(max(version), 0) FROM schema_version", 0, got_version);
}

static void connect_step(void)
{
    switch (PQconnectPoll(P.conn)) {
    case PGRES_POLLING_READING:
        if (poll_want(UV_READABLE) < 0)
            lost("cannot watch the socket");
        return;
    case PGRES_POLLING_WRITING:
        if (poll_want(UV_WRITABLE) < 0)
            lost("cannot watch the socket");
        return;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(P.conn, 1) != 0 || poll_want(UV_READABLE) < 0) {
            lost("cannot set up the connection");
            return;
        }
        migrate();
        return;
    default:
        lost("cannot connect");
        return;
    }
}

/* Server notices ("relation … already exists, skipping") are logged at debug level, as one line, instead of
 * libpq's default of printing them to stderr. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("pg: %.*s", (int)strcspn(message, "\n"), message);
}

static void start_connect(void)
{
    P.st = ST_CONNECTING;
    P.started_at = uv_now(P.loop);
    P.conn = PQconnectStart(P.conninfo);
    if (!P.conn || PQstatus(P.conn) == CONNECTION_BAD) {
        lost("cannot connect");
        return;
    }
    PQsetNoticeProcessor(P.conn, on_notice, NULL);
    /* libpq: before the first PQconnectPoll, behave as if it had said "writing". */
    if (poll_want(UV_WRITABLE) < 0)
        lost("cannot watch the socket");
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)h;
    if (!P.conn)
        return;
    if (P.st == ST_CONNECTING) {
        connect_step();
        return;
    }
    if (status < 0) {
        lost("socket error");
        return;
    }
    if (events & UV_WRITABLE) {
        int f = PQflush(P.conn);
        if (f < 0) {
            lost("connection lost");
            return;
        }
        if (f == 0 && poll_want(UV_READABLE) < 0) {
            lost("cannot watch the socket");
            return;
        }
    }
    if (events & UV_READABLE)
        drain_results();
}

/* Liveness: the connection attempt, or the query in flight once up, has had timeout_ms. Not while
 * migrating: a migration may rewrite a large table. */
static void watchdog_fire(uv_timer_t *t)
{
    (void)t;
    if (!P.conn || uv_now(P.loop) - P.started_at < P.timeout_ms)
        return;
    if (P.st == ST_CONNECTING)
        lost("connecting took longer than postgres-timeout");
    else if (P.st == ST_UP && P.sent)
        lost("a query took longer than postgres-timeout");
}

/* ---- public ---- */

void pg_query(const char *sql, int nparams, const char *const *params, pg_cb cb, void *priv)
{
    query_t *q = query_new(sql, nparams, params, cb, priv);
    if (!q) {
        log_error("pg: out of memory");
        if (cb) {
            /* Still never from inside the call: a minimal query carries the callback to the defer timer. */
            static const char *none = "";
            q = query_new(none, 0, NULL, cb, priv);
            if (!q)
                return; /* nothing left to carry it with */
        } else {
            return;
        }
        refuse(q);
        return;
    }
    if (P.st != ST_UP || P.closing) {
        refuse(q);
        return;
    }
    enqueue(q);
}

int pg_open(uv_loop_t *loop, const char *conninfo, unsigned retry_max_ms, unsigned timeout_ms)
{
    if (P.opened)
        return -1;
    if (!(P.conninfo = strdup(conninfo)))
        return -1;
    P.loop = loop;
    P.opened = 1;
    P.backoff_ms = BACKOFF_MIN_MS;
    P.backoff_max_ms = retry_max_ms < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : retry_max_ms;
    P.timeout_ms = timeout_ms < 100 ? 100 : timeout_ms;
    uv_timer_init(loop, &P.retry);
    uv_timer_init(loop, &P.defer);
    uv_timer_init(loop, &P.watchdog);
    unsigned every = P.timeout_ms / 4 < 50 ? 50 : P.timeout_ms / 4;
    uv_timer_start(&P.watchdog, watchdog_fire, every, every);
    start_connect();
    return 0;
}

void pg_close(void)
{
    if (!P.opened || P.closing)
        return;
    P.closing = 1;
    uv_timer_stop(&P.retry);
    uv_timer_stop(&P.defer);
    uv_timer_stop(&P.watchdog);
    poll_drop();
    if (P.conn) {
        PQfinish(P.conn);
        P.conn = NULL;
    }
    P.st = ST_OFF;
    fail_queue();
    defer_run(NULL);
    uv_close((uv_handle_t *)&P.retry, NULL);
    uv_close((uv_handle_t *)&P.defer, NULL);
    uv_close((uv_handle_t *)&P.watchdog, NULL);
    free(P.conninfo);
    P.conninfo = NULL;
}
