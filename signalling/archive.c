/* archive.c — see archive.h. The archiver is a chain of callbacks (lock → channels → take → copy → trim →
 * take …), one step in flight at a time, started by a timer. */
#include "archive.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "feature.h"
#include "log.h"
#include "msg.h"
#include "pg.h"
#include "search.h"
#include "store.h"
#include "streamid.h"

#define CONNINFO_MAX 4096
#define TRIM_RETRIES 3 /* a channel whose range keeps changing (edits) is left for the next round */

/* One statement, so one transaction: the rows of $2 (archive_take's JSON) inserted or updated, indexed in
 * the circle's language $8, and the archive's rows in [$4-$5, $6-$7] (from .. last) that the stream no
 * longer has (deleted since they were copied) removed. */
static const char COPY_SQL[] =
    "WITH input AS ("
    "  SELECT x.ms::bigint AS ms, x.seq::bigint AS seq, x.author, x.body, x.edited, x.msg"
    "  FROM jsonb_to_recordset($2::jsonb) AS x(ms text, seq text, author text, body text, edited boolean, msg jsonb)),"
    " gone AS ("
    "  DELETE FROM messages m WHERE m.channel = $1"
    "  AND (m.ms, m.seq) >= ($4::bigint, $5::bigint) AND (m.ms, m.seq) <= ($6::bigint, $7::bigint)"
    "  AND NOT EXISTS (SELECT 1 FROM input i WHERE i.ms = m.ms AND i.seq = m.seq)),"
    " ins AS ("
    "  INSERT INTO messages (channel, circle, ms, seq, author, body, edited, msg, lang)"
    "  SELECT $1, $3, ms, seq, author, body, edited, msg, $8::regconfig FROM input"
    "  ON CONFLICT (channel, ms, seq) DO UPDATE SET body = EXCLUDED.body, edited = EXCLUDED.edited, msg = EXCLUDED.msg,"
    "  lang = EXCLUDED.lang"
    "  RETURNING 1)"
    " SELECT count(*) FROM ins";

/* A circle's language changed (circle.set_language): its archived rows get the new language $2, and with
 * it their stored tsvector (sql/004), RELANG_BATCH rows per statement so that none runs for long. */
#define RELANG_BATCH "5000"
static const char RELANG_SQL[] =
    "UPDATE messages SET lang = $2::regconfig WHERE ctid = ANY(ARRAY("
    " SELECT ctid FROM messages WHERE circle = $1 AND lang <> $2::regconfig LIMIT " RELANG_BATCH "))";

/* Channels copied at once in a round: while PostgreSQL inserts one channel's batch, Redis reads the next
 * channel's and trims the previous one's (the statements still go one at a time on pg.c's connection). */
#define ARCHIVE_WORKERS 4

/* One chain of steps (take → copy → trim → take …) over the round's channels, one channel at a time. */
typedef struct {
    size_t idx;       /* its channel in A.channels */
    int trim_retries;
    json_t *take;     /* the step's archive_take answer */
} worker_t;

static struct {
    int enabled, stopping, busy;
    uv_timer_t tick;
    char holder[FEATURE_ID_LEN + 1]; /* this node's token for archive:lock */
    json_t *channels;                /* this round's [[chid, cid, language], …] */
    size_t next;                     /* the next channel a worker takes */
    int active, failed;              /* workers running; the round stopped by an error */
    worker_t workers[ARCHIVE_WORKERS];
    json_t *relang;                  /* this round's circles to reindex: [[cid, language], …] */
    size_t ridx;
    json_t *audit;                   /* this round's circles with audit entries to copy: [cid, …] */
    size_t aidx;
    json_t *audit_take;              /* the audit step's archive_audit_take answer */
    unsigned long long copied, failures, rounds;
    long long backlog; /* messages beyond the windows when the last round started (-1: no round yet) */
} A = {.backlog = -1};

int archive_enabled(void) { return A.enabled; }
unsigned long long archive_copied(void) { return A.copied; }
unsigned long long archive_failures(void) { return A.failures; }

/* ---- the archiver ---- */

static json_t *reply_object(const store_reply_t *rep)
{
    size_t len = 0;
    const char *s = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, &len) : NULL;
    json_t *o = s ? json_loadb(s, len, 0, NULL) : NULL;
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Counts a failure of the round once (the other workers stop at their next step). */
static void round_failed(const char *why)
{
    if (A.failed)
        return;
    A.failed = 1;
    A.failures++;
    log_warn("archive: round stopped: %s (the next round catches up)", why);
}

static void round_finish(void)
{
    json_decref(A.channels);
    json_decref(A.relang);
    json_decref(A.audit);
    json_decref(A.audit_take);
    A.channels = A.relang = A.audit = A.audit_take = NULL;
    A.busy = 0;
}

/* A round stopped before its workers started (listing, reindexing). */
static void round_end(int failed, const char *why)
{
    if (failed)
        round_failed(why);
    round_finish();
}

/* A worker is done (no channel left, an error, or stopping); the last one ends the round. */
static void worker_end(worker_t *w, int failed, const char *why)
{
    if (failed)
        round_failed(why);
    json_decref(w->take);
    w->take = NULL;
    if (--A.active == 0)
        round_finish();
}

/* 1 if the round is over for w (node stopping, or another worker failed): w has ended. */
static int worker_stopped(worker_t *w)
{
    if (!A.stopping && !A.failed)
        return 0;
    worker_end(w, 0, NULL);
    return 1;
}

static void step_take(worker_t *w);

static void next_channel(worker_t *w)
{
    w->idx = A.next++;
    w->trim_retries = 0;
    step_take(w);
}

static const char *chan_field(const worker_t *w, size_t i)
{
    return json_string_value(json_array_get(json_array_get(A.channels, w->idx), i));
}
static const char *cur_chid(const worker_t *w) { return chan_field(w, 0); }
static const char *cur_cid(const worker_t *w) { return chan_field(w, 1); }
static const char *cur_lang(const worker_t *w)
{
    const char *l = chan_field(w, 2);
    return l ? l : "english";
}

static void trimmed(const store_reply_t *rep, void *priv)
{
    worker_t *w = priv;
    if (worker_stopped(w))
        return;
    if (!store_ok(rep) || store_type(rep) != STORE_INT) {
        worker_end(w, 1, "cannot trim the stream (Redis)");
        return;
    }
    long long n = json_integer_value(json_object_get(w->take, "n"));
    if (store_int(rep) < 0) {
        /* Edited or deleted between the copy and the trim: copy the range again (idempotent). */
        if (++w->trim_retries > TRIM_RETRIES) {
            next_channel(w);
            return;
        }
        step_take(w);
        return;
    }
    A.copied += (unsigned long long)n;
    log_debug("archive: channel %s: %lld messages copied, %lld trimmed", cur_chid(w), n, store_int(rep));
    if (n >= config_get()->archive_batch)
        step_take(w); /* more to copy */
    else
        next_channel(w);
}

/* Marks what was copied (nothing if first is "") and trims the stream to its window: archive_trim. */
static void send_trim(worker_t *w)
{
    const char *first = json_string_value(json_object_get(w->take, "first"));
    const char *last = json_string_value(json_object_get(w->take, "last"));
    const char *digest = json_string_value(json_object_get(w->take, "digest"));
    const char *dirty = json_string_value(json_object_get(w->take, "dirty"));
    char keep[24];
    snprintf(keep, sizeof keep, "%lld", config_get()->archive_keep);
    const char *args[] = {cur_chid(w), keep, first ? first : "", last ? last : "", digest ? digest : "",
                          dirty ? dirty : ""};
    store_fcall("archive_trim", trimmed, w, 0, 6, args);
}

static void copied(const pg_result_t *res, void *priv)
{
    worker_t *w = priv;
    if (worker_stopped(w))
        return;
    if (!res) {
        worker_end(w, 1, "cannot copy to PostgreSQL");
        return;
    }
    send_trim(w); /* only now: the copy is committed */
}

static void took(const store_reply_t *rep, void *priv)
{
    worker_t *w = priv;
    if (worker_stopped(w))
        return;
    json_decref(w->take);
    if (!(w->take = reply_object(rep))) {
        worker_end(w, 1, "cannot read the stream (Redis)");
        return;
    }
    if (json_integer_value(json_object_get(w->take, "n")) <= 0) {
        send_trim(w); /* everything is copied: the window may still need trimming */
        return;
    }
    streamid_t f, l;
    streamid_parse(json_string_value(json_object_get(w->take, "from")), &f);
    streamid_parse(json_string_value(json_object_get(w->take, "last")), &l);
    char fms[24], fseq[24], lms[24], lseq[24];
    snprintf(fms, sizeof fms, "%llu", f.ms);
    snprintf(fseq, sizeof fseq, "%llu", f.seq);
    snprintf(lms, sizeof lms, "%llu", l.ms);
    snprintf(lseq, sizeof lseq, "%llu", l.seq);
    const char *params[] = {cur_chid(w), json_string_value(json_object_get(w->take, "rows")), cur_cid(w),
                            fms, fseq, lms, lseq, cur_lang(w)};
    pg_query(COPY_SQL, 8, params, copied, w);
}

static void step_take(worker_t *w)
{
    if (w->idx >= json_array_size(A.channels)) {
        worker_end(w, 0, NULL);
        return;
    }
    if (!cur_chid(w) || !cur_cid(w)) {
        next_channel(w);
        return;
    }
    char batch[24];
    snprintf(batch, sizeof batch, "%lld", config_get()->archive_batch);
    const char *args[] = {cur_chid(w), batch};
    store_fcall("archive_take", took, w, 0, 2, args);
}

/* Starts the workers over the round's channels (each worker takes the next channel when done with one). */
static void start_workers(void)
{
    A.next = 0;
    A.active = ARCHIVE_WORKERS;
    for (int i = 0; i < ARCHIVE_WORKERS; i++) {
        A.workers[i].take = NULL;
        next_channel(&A.workers[i]);
    }
}

/* ---- reindexing circles whose language changed, before the round's channels ---- */

/* ---- the moderation audit log: each circle's new entries, before the channels ---- */

static const char AUDIT_SQL[] =
    "INSERT INTO audit_log (circle, ms, seq, action, entry)"
    " SELECT $1, x.ms::bigint, x.seq::bigint, x.entry->>'action', x.entry"
    " FROM jsonb_to_recordset($2::jsonb) AS x(ms text, seq text, entry jsonb)"
    " ON CONFLICT (circle, ms, seq) DO NOTHING";

static void step_audit(void);

static const char *audit_cid(void) { return json_string_value(json_array_get(A.audit, A.aidx)); }

static void audit_done(const store_reply_t *rep, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    if (!store_ok(rep)) {
        round_end(1, "cannot mark audit entries copied (Redis)");
        return;
    }
    step_audit(); /* the same circle until nothing is left */
}

static void audit_copied(const pg_result_t *res, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    if (!res) {
        round_end(1, "cannot copy audit entries to PostgreSQL");
        return;
    }
    const char *args[] = {audit_cid(), json_string_value(json_object_get(A.audit_take, "last"))};
    store_fcall("archive_audit_done", audit_done, NULL, 0, 2, args); /* only now: the copy is committed */
}

static void audit_took(const store_reply_t *rep, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    json_decref(A.audit_take);
    if (!(A.audit_take = reply_object(rep))) {
        round_end(1, "cannot read an audit log (Redis)");
        return;
    }
    if (json_integer_value(json_object_get(A.audit_take, "n")) <= 0 || !json_string_value(json_object_get(A.audit_take, "last"))) {
        A.aidx++;
        step_audit();
        return;
    }
    const char *params[] = {audit_cid(), json_string_value(json_object_get(A.audit_take, "rows"))};
    pg_query(AUDIT_SQL, 2, params, audit_copied, NULL);
}

static void step_audit(void)
{
    if (A.aidx >= json_array_size(A.audit)) {
        start_workers();
        return;
    }
    if (!audit_cid()) {
        A.aidx++;
        step_audit();
        return;
    }
    char batch[24];
    snprintf(batch, sizeof batch, "%lld", config_get()->archive_batch);
    const char *args[] = {audit_cid(), batch};
    store_fcall("archive_audit_take", audit_took, NULL, 0, 2, args);
}

static void step_relang(void);

static const char *relang_field(int i) { return json_string_value(json_array_get(json_array_get(A.relang, A.ridx), (size_t)i)); }

static void relang_done(const store_reply_t *rep, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    if (!store_ok(rep)) {
        round_end(1, "cannot mark a circle reindexed (Redis)");
        return;
    }
    A.ridx++;
    step_relang();
}

static void relanged(const pg_result_t *res, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    if (!res) {
        round_end(1, "cannot reindex a circle (PostgreSQL)");
        return;
    }
    if (pg_affected(res) > 0) {
        step_relang(); /* the same circle: more rows may be left */
        return;
    }
    log_info("archive: circle %s reindexed in %s", relang_field(0), relang_field(1));
    const char *args[] = {relang_field(0), relang_field(1)};
    store_fcall("archive_relang_done", relang_done, NULL, 0, 2, args);
}

static void step_relang(void)
{
    if (A.ridx >= json_array_size(A.relang)) {
        A.aidx = 0;
        step_audit();
        return;
    }
    const char *cid = relang_field(0), *lang = relang_field(1);
    if (!cid || !lang || !search_language_valid(lang)) {
        A.ridx++;
        step_relang();
        return;
    }
    const char *params[] = {cid, lang};
    pg_query(RELANG_SQL, 2, params, relanged, NULL);
}

static void got_channels(const store_reply_t *rep, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    json_t *o = reply_object(rep);
    A.channels = json_incref(json_object_get(o, "channels"));
    A.relang = json_incref(json_object_get(o, "relang"));
    A.audit = json_incref(json_object_get(o, "audit"));
    if (json_is_integer(json_object_get(o, "backlog")))
        A.backlog = json_integer_value(json_object_get(o, "backlog"));
    A.rounds++;
    json_decref(o);
    if (!json_is_array(A.channels)) {
        round_end(1, "cannot list the channels (Redis)");
        return;
    }
    A.ridx = 0;
    step_relang();
}

static void locked(const store_reply_t *rep, void *priv)
{
    (void)priv;
    if (A.stopping || !store_ok(rep) || store_int(rep) != 1) {
        round_end(0, NULL); /* another node archives (or Redis is down): nothing to do */
        return;
    }
    char keep[24];
    snprintf(keep, sizeof keep, "%lld", config_get()->archive_keep);
    const char *args[] = {keep};
    store_fcall("archive_channels", got_channels, NULL, 0, 1, args);
}

static void tick(uv_timer_t *t)
{
    (void)t;
    if (A.busy || A.stopping || !pg_is_up() || !store_is_up())
        return;
    A.busy = 1;
    A.failed = 0;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", config_get()->archive_lock_ttl);
    const char *args[] = {A.holder, ttl};
    store_fcall("archive_lock", locked, NULL, 0, 2, args);
}

/* The first line of path (the connection string, which may hold a password: never logged). */
static int read_conninfo(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(out, (int)n, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return *out ? 0 : -1;
}

static int archive_start(uv_loop_t *loop)
{
    const signal_config_t *cfg = config_get();
    if (!cfg || !cfg->postgres_conninfo_file || !*cfg->postgres_conninfo_file)
        return 0; /* no archive: chat stays in Redis, exactly as before */
    char conninfo[CONNINFO_MAX];
    if (read_conninfo(cfg->postgres_conninfo_file, conninfo, sizeof conninfo) < 0) {
        log_error("archive: cannot read a connection string from %s", cfg->postgres_conninfo_file);
        return -1;
    }
    if (feature_id_new(A.holder) < 0 || pg_open(loop, conninfo, (unsigned)cfg->postgres_retry_max, (unsigned)cfg->postgres_timeout) < 0) {
        log_error("archive: cannot start");
        return -1;
    }
    memset(conninfo, 0, sizeof conninfo);
    A.enabled = 1;
    uv_timer_init(loop, &A.tick);
    uv_timer_start(&A.tick, tick, (uint64_t)cfg->archive_interval, (uint64_t)cfg->archive_interval);
    return 0;
}

static void archive_stop(void)
{
    if (!A.enabled)
        return;
    A.stopping = 1;
    /* Give the lock back (store_close sends what is queued): another node archives from its next round. */
    const char *args[] = {A.holder};
    store_fcall("archive_unlock", NULL, NULL, 0, 1, args);
    uv_timer_stop(&A.tick);
    uv_close((uv_handle_t *)&A.tick, NULL);
    pg_close();
}

/* GET /metrics/archive: the archiver's figures, Prometheus text (beside /metrics, which knows no feature). */
static void route_metrics(ws_http_req_t *req, void *arg)
{
    (void)arg;
    if (strcmp(ws_http_path(req), "/metrics/archive") != 0) {
        ws_http_answer(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
        return;
    }
    char body[2048];
    int n = snprintf(body, sizeof body,
                     "# HELP staffroom_archive_enabled 1 if this node has a PostgreSQL archive configured\n"
                     "# TYPE staffroom_archive_enabled gauge\nstaffroom_archive_enabled %d\n"
                     "# HELP staffroom_archive_postgres_up 1 if PostgreSQL is connected and migrated\n"
                     "# TYPE staffroom_archive_postgres_up gauge\nstaffroom_archive_postgres_up %d\n"
                     "# HELP staffroom_archive_schema_version the schema version reached by the migrations\n"
                     "# TYPE staffroom_archive_schema_version gauge\nstaffroom_archive_schema_version %d\n"
                     "# HELP staffroom_archive_copied_total messages this node moved to PostgreSQL\n"
                     "# TYPE staffroom_archive_copied_total counter\nstaffroom_archive_copied_total %llu\n"
                     "# HELP staffroom_archive_failures_total archiver rounds stopped by an error\n"
                     "# TYPE staffroom_archive_failures_total counter\nstaffroom_archive_failures_total %llu\n"
                     "# HELP staffroom_archive_rounds_total archiver rounds this node ran (holding the lock)\n"
                     "# TYPE staffroom_archive_rounds_total counter\nstaffroom_archive_rounds_total %llu\n"
                     "# HELP staffroom_archive_backlog_messages messages beyond the hot windows when this node's last round started (the lag; -1: none yet)\n"
                     "# TYPE staffroom_archive_backlog_messages gauge\nstaffroom_archive_backlog_messages %lld\n",
                     A.enabled, pg_is_up(), pg_schema_version(), A.copied, A.failures, A.rounds, A.backlog);
    ws_http_answer(req, 200, "text/plain; version=0.0.4", body, (size_t)n);
}

static const module_route_t routes[] = {
    {"/metrics/archive", route_metrics, NULL},
    {NULL, NULL, NULL},
};

const module_t archive_module = {
    .name = "archive",
    .routes = routes,
    .start = archive_start,
    .stop = archive_stop,
};
