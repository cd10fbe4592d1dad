/* archive.c — see archive.h. The archiver is a chain of callbacks (lock → channels → take → copy → trim →
 * take …), one step in flight at a time, started by a timer; the history reader is one Redis call and at
 * most one PostgreSQL query. */
#include "archive.h"

#include <inttypes.h>
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
#include "store.h"

#define CONNINFO_MAX 4096
#define TRIM_RETRIES 3 /* a channel whose range keeps changing (edits) is left for the next round */

/* One statement, so one transaction: the rows of $2 (archive_take's JSON) inserted or updated, and the
 * archive's rows in [$4-$5, $6-$7] (from .. last) that the stream no longer has (deleted since they were
 * copied) removed. */
static const char COPY_SQL[] =
    "WITH input AS ("
    "  SELECT x.ms::bigint AS ms, x.seq::bigint AS seq, x.author, x.body, x.edited, x.msg"
    "  FROM jsonb_to_recordset($2::jsonb) AS x(ms text, seq text, author text, body text, edited boolean, msg jsonb)),"
    " gone AS ("
    "  DELETE FROM messages m WHERE m.channel = $1"
    "  AND (m.ms, m.seq) >= ($4::bigint, $5::bigint) AND (m.ms, m.seq) <= ($6::bigint, $7::bigint)"
    "  AND NOT EXISTS (SELECT 1 FROM input i WHERE i.ms = m.ms AND i.seq = m.seq)),"
    " ins AS ("
    "  INSERT INTO messages (channel, circle, ms, seq, author, body, edited, msg)"
    "  SELECT $1, $3, ms, seq, author, body, edited, msg FROM input"
    "  ON CONFLICT (channel, ms, seq) DO UPDATE SET body = EXCLUDED.body, edited = EXCLUDED.edited, msg = EXCLUDED.msg"
    "  RETURNING 1)"
    " SELECT count(*) FROM ins";

/* chat.history below the stream: newest first (backwards) or oldest first (forwards), exclusive bounds. */
static const char OLDER_SQL[] =
    "SELECT ms, seq, body, edited, msg FROM messages WHERE channel = $1"
    " AND (ms, seq) > ($2::bigint, $3::bigint) AND (ms, seq) < ($4::bigint, $5::bigint)"
    " ORDER BY ms DESC, seq DESC LIMIT $6::int";
static const char NEWER_SQL[] =
    "SELECT ms, seq, body, edited, msg FROM messages WHERE channel = $1"
    " AND (ms, seq) > ($2::bigint, $3::bigint) AND (ms, seq) < ($4::bigint, $5::bigint)"
    " ORDER BY ms, seq LIMIT $6::int";

static struct {
    int enabled, stopping, busy;
    uv_timer_t tick;
    char holder[FEATURE_ID_LEN + 1]; /* this node's token for archive:lock */
    json_t *channels;                /* this round's [[chid, cid], …] */
    size_t idx;
    int trim_retries;
    json_t *take;                    /* the step's archive_take answer */
    unsigned long long copied, failures, rounds;
    long long backlog; /* messages beyond the windows when the last round started (-1: no round yet) */
} A = {.backlog = -1};

int archive_enabled(void) { return A.enabled; }
unsigned long long archive_copied(void) { return A.copied; }
unsigned long long archive_failures(void) { return A.failures; }

/* ---- stream ids ---- */

typedef struct { unsigned long long ms, seq; } sid_t;

/* Parses "MS-SEQ" (feature_stream_id_valid); values above INT64_MAX (PostgreSQL's bigint) are clamped:
 * no stored id is that large, so a bound there means "past everything". "" → *none set. */
static void sid_parse(const char *s, sid_t *out, int *none)
{
    *none = !s || !*s;
    *out = (sid_t){0, 0};
    if (*none)
        return;
    char *end;
    out->ms = strtoull(s, &end, 10);
    out->seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
    if (out->ms > INT64_MAX)
        out->ms = INT64_MAX;
    if (out->seq > INT64_MAX)
        out->seq = INT64_MAX;
}

static int sid_cmp(sid_t a, sid_t b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    return a.seq < b.seq ? -1 : a.seq > b.seq;
}

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

static void round_end(int failed, const char *why)
{
    if (failed) {
        A.failures++;
        log_warn("archive: round stopped: %s (the next round catches up)", why);
    }
    json_decref(A.channels);
    json_decref(A.take);
    A.channels = A.take = NULL;
    A.busy = 0;
}

static void step_take(void);

static void next_channel(void)
{
    A.idx++;
    A.trim_retries = 0;
    step_take();
}

static const char *cur_chid(void) { return json_string_value(json_array_get(json_array_get(A.channels, A.idx), 0)); }
static const char *cur_cid(void) { return json_string_value(json_array_get(json_array_get(A.channels, A.idx), 1)); }

static void trimmed(const store_reply_t *rep, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    if (!store_ok(rep) || store_type(rep) != STORE_INT) {
        round_end(1, "cannot trim the stream (Redis)");
        return;
    }
    long long n = json_integer_value(json_object_get(A.take, "n"));
    if (store_int(rep) < 0) {
        /* Edited or deleted between the copy and the trim: copy the range again (idempotent). */
        if (++A.trim_retries > TRIM_RETRIES) {
            next_channel();
            return;
        }
        step_take();
        return;
    }
    A.copied += (unsigned long long)n;
    log_debug("archive: channel %s: %lld messages copied, %lld trimmed", cur_chid(), n, store_int(rep));
    if (n >= config_get()->archive_batch)
        step_take(); /* more to copy */
    else
        next_channel();
}

/* Marks what was copied (nothing if first is "") and trims the stream to its window: archive_trim. */
static void send_trim(void)
{
    const char *first = json_string_value(json_object_get(A.take, "first"));
    const char *last = json_string_value(json_object_get(A.take, "last"));
    const char *digest = json_string_value(json_object_get(A.take, "digest"));
    const char *dirty = json_string_value(json_object_get(A.take, "dirty"));
    char keep[24];
    snprintf(keep, sizeof keep, "%lld", config_get()->archive_keep);
    const char *args[] = {cur_chid(), keep, first ? first : "", last ? last : "", digest ? digest : "",
                          dirty ? dirty : ""};
    store_fcall("archive_trim", trimmed, NULL, 0, 6, args);
}

static void copied(const pg_result_t *res, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    if (!res) {
        round_end(1, "cannot copy to PostgreSQL");
        return;
    }
    send_trim(); /* only now: the copy is committed */
}

static void took(const store_reply_t *rep, void *priv)
{
    (void)priv;
    if (A.stopping) {
        round_end(0, NULL);
        return;
    }
    json_decref(A.take);
    if (!(A.take = reply_object(rep))) {
        round_end(1, "cannot read the stream (Redis)");
        return;
    }
    if (json_integer_value(json_object_get(A.take, "n")) <= 0) {
        send_trim(); /* everything is copied: the window may still need trimming */
        return;
    }
    sid_t f, l;
    int none;
    sid_parse(json_string_value(json_object_get(A.take, "from")), &f, &none);
    sid_parse(json_string_value(json_object_get(A.take, "last")), &l, &none);
    char fms[24], fseq[24], lms[24], lseq[24];
    snprintf(fms, sizeof fms, "%llu", f.ms);
    snprintf(fseq, sizeof fseq, "%llu", f.seq);
    snprintf(lms, sizeof lms, "%llu", l.ms);
    snprintf(lseq, sizeof lseq, "%llu", l.seq);
    const char *params[] = {cur_chid(), json_string_value(json_object_get(A.take, "rows")), cur_cid(),
                            fms, fseq, lms, lseq};
    pg_query(COPY_SQL, 7, params, copied, NULL);
}

static void step_take(void)
{
    if (A.idx >= json_array_size(A.channels)) {
        round_end(0, NULL);
        return;
    }
    if (!cur_chid() || !cur_cid()) {
        next_channel();
        return;
    }
    char batch[24];
    snprintf(batch, sizeof batch, "%lld", config_get()->archive_batch);
    const char *args[] = {cur_chid(), batch};
    store_fcall("archive_take", took, NULL, 0, 2, args);
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
    if (json_is_integer(json_object_get(o, "backlog")))
        A.backlog = json_integer_value(json_object_get(o, "backlog"));
    A.rounds++;
    json_decref(o);
    if (!json_is_array(A.channels)) {
        round_end(1, "cannot list the channels (Redis)");
        return;
    }
    A.idx = 0;
    A.trim_retries = 0;
    step_take();
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
    if (feature_id_new(A.holder) < 0 || pg_open(loop, conninfo, (unsigned)cfg->postgres_retry_max) < 0) {
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

/* ---- chat.history across the stream and the archive ---- */

typedef struct {
    req_t *r;
    json_t *page;  /* the stream's answer: messages, has_more, first, archived */
    int forward;   /* `after` given: oldest first from after */
    long long limit;
    char chid[FEATURE_ID_LEN + 1];
    char before[48], after[48];
} hist_t;

static void hist_free(hist_t *h)
{
    json_decref(h->page);
    free(h);
}

/* Answers with older then newer (ascending arrays, stolen), cut to limit. */
static void hist_answer(hist_t *h, json_t *older, json_t *newer, int has_more)
{
    json_t *msgs = json_array();
    json_array_extend(msgs, older);
    json_array_extend(msgs, newer);
    json_decref(older);
    json_decref(newer);
    while ((long long)json_array_size(msgs) > h->limit) {
        json_array_remove(msgs, json_array_size(msgs) - 1);
        has_more = 1;
    }
    req_ok(h->r, json_pack("{s:o,s:b}", "messages", msgs, "has_more", has_more));
    hist_free(h);
}

/* The protocol object of an archived row: the object stored at archive time, with the current text. */
static json_t *row_message(const pg_result_t *res, int i)
{
    const char *body = pg_value(res, i, 2), *edited = pg_value(res, i, 3), *msg = pg_value(res, i, 4);
    json_t *m = msg ? json_loads(msg, 0, NULL) : NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        return NULL;
    }
    json_object_set_new(m, "text", json_string(body ? body : ""));
    json_object_set_new(m, "edited", json_boolean(edited && *edited == 't'));
    return m;
}

static void hist_rows(const pg_result_t *res, void *priv)
{
    hist_t *h = priv;
    if (!res) {
        req_error(h->r, E_UNAVAILABLE, "the chat archive is not reachable; try again");
        hist_free(h);
        return;
    }
    int n = pg_ntuples(res);
    json_t *rows = json_array();
    for (int i = 0; i < n; i++) {
        json_t *m = row_message(res, h->forward ? i : n - 1 - i); /* ascending either way */
        if (m)
            json_array_append_new(rows, m);
    }
    json_t *stream = json_incref(json_object_get(h->page, "messages"));
    int stream_more = json_is_true(json_object_get(h->page, "has_more"));
    if (h->forward) {
        hist_answer(h, rows, stream, stream_more); /* more than limit archived rows: cut, has_more */
        return;
    }
    /* Backwards: one row more than the page takes was asked for, to know whether older ones remain. */
    long long need = h->limit - (long long)json_array_size(stream);
    int more = (long long)json_array_size(rows) > need;
    while ((long long)json_array_size(rows) > need)
        json_array_remove(rows, 0);
    hist_answer(h, rows, stream, more);
}

/* Whether the page reaches below the stream into the archive: something was archived, the stream did not
 * fill the page on its own (backwards), or the page starts below what was archived (forwards). */
static int hist_needs_archive(const hist_t *h, int archived_none, sid_t archived, int after_none, sid_t after)
{
    if (archived_none)
        return 0;
    if (h->forward)
        return sid_cmp(after, archived) < 0;
    (void)after_none;
    return !json_is_true(json_object_get(h->page, "has_more"));
}

static void hist_stream(const store_reply_t *rep, void *priv)
{
    hist_t *h = priv;
    if (!(h->page = reply_object(rep))) {
        req_store_error(h->r, rep); /* forbidden, not_found, or Redis down */
        hist_free(h);
        return;
    }
    sid_t hi, lo, first, archived;
    int hi_none, lo_none, first_none, archived_none;
    sid_parse(h->before, &hi, &hi_none);
    sid_parse(h->after, &lo, &lo_none);
    sid_parse(json_string_value(json_object_get(h->page, "first")), &first, &first_none);
    sid_parse(json_string_value(json_object_get(h->page, "archived")), &archived, &archived_none);
    json_object_del(h->page, "first");
    json_object_del(h->page, "archived");
    if (!hist_needs_archive(h, archived_none, archived, lo_none, lo)) {
        req_ok(h->r, json_incref(h->page));
        hist_free(h);
        return;
    }
    /* The archive holds only ids below the stream's oldest: bound the query by it (no duplicate at the
     * boundary while a copied range awaits its trim) and by `before`. */
    if (hi_none)
        hi = (sid_t){INT64_MAX, INT64_MAX};
    if (!first_none && sid_cmp(first, hi) < 0)
        hi = first;
    long long n = (long long)json_array_size(json_object_get(h->page, "messages"));
    char p[5][24];
    snprintf(p[0], sizeof p[0], "%llu", lo_none ? 0ULL : lo.ms);
    snprintf(p[1], sizeof p[1], "%lld", lo_none ? -1LL : (long long)lo.seq);
    snprintf(p[2], sizeof p[2], "%llu", hi.ms);
    snprintf(p[3], sizeof p[3], "%llu", hi.seq);
    snprintf(p[4], sizeof p[4], "%lld", h->forward ? h->limit + 1 : h->limit - n + 1);
    const char *params[] = {h->chid, p[0], p[1], p[2], p[3], p[4]};
    pg_query(h->forward ? NEWER_SQL : OLDER_SQL, 6, params, hist_rows, h);
}

void archive_history(req_t *r, const char *chid, const char *before, const char *after, long long limit)
{
    hist_t *h = calloc(1, sizeof *h);
    if (!h || strlen(chid) > FEATURE_ID_LEN || strlen(before) >= sizeof h->before || strlen(after) >= sizeof h->after) {
        free(h);
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    h->r = r;
    h->limit = limit;
    h->forward = *after != '\0';
    strcpy(h->chid, chid);
    strcpy(h->before, before);
    strcpy(h->after, after);
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), chid, before, after, lim, "1"};
    store_fcall("chat_history", hist_stream, h, 0, 6, args);
}

/* ---- chat.edit / chat.delete of archived messages ---- */

/* The row's author (NULL: no such message) and, if the change was made, the stored message (edit) or "1"
 * (deletion). $5 = the user, $6 = whether they moderate (deletions). */
static const char EDIT_SQL[] =
    "WITH m AS (SELECT author FROM messages WHERE channel = $1 AND ms = $2::bigint AND seq = $3::bigint),"
    " u AS (UPDATE messages SET body = $4, edited = true"
    "  WHERE channel = $1 AND ms = $2::bigint AND seq = $3::bigint AND author = $5 RETURNING msg)"
    " SELECT (SELECT author FROM m), (SELECT msg FROM u)";
static const char DELETE_SQL[] =
    "WITH m AS (SELECT author FROM messages WHERE channel = $1 AND ms = $2::bigint AND seq = $3::bigint),"
    " d AS (DELETE FROM messages WHERE channel = $1 AND ms = $2::bigint AND seq = $3::bigint"
    "  AND (author = $4 OR $5 = 'true') RETURNING 1)"
    " SELECT (SELECT author FROM m), (SELECT '1' FROM d)";

typedef struct {
    req_t *r;
    char *text; /* NULL: a deletion */
    char chid[FEATURE_ID_LEN + 1];
    char id[48];
    char circle[FEATURE_ID_LEN + 1];
} change_t;

static void change_free(change_t *c)
{
    free(c->text);
    free(c);
}

/* Answers with a library function's reply as feature_eval_answer does: a JSON object → ok with its members. */
static void answer_reply(req_t *r, const store_reply_t *rep)
{
    size_t len = 0;
    const char *s = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, &len) : NULL;
    if (s && len == 0) {
        req_ok(r, NULL);
        return;
    }
    json_t *o = reply_object(rep);
    if (o)
        req_ok(r, o);
    else
        req_store_error(r, rep);
}

static void change_published(const store_reply_t *rep, void *priv)
{
    (void)rep; /* the change is made: a lost event is what a Redis outage costs any event */
    (void)priv;
}

static void change_publish(change_t *c, json_t *ev)
{
    char *text = json_dumps(ev, JSON_COMPACT);
    if (text) {
        const char *args[] = {c->circle, text};
        store_fcall("chat_archived_publish", change_published, NULL, 0, 2, args);
    }
    free(text);
    json_decref(ev);
}

static void change_done(const pg_result_t *res, void *priv)
{
    change_t *c = priv;
    if (!res) {
        req_error(c->r, E_UNAVAILABLE, "the chat archive is not reachable; try again");
        change_free(c);
        return;
    }
    const char *author = pg_value(res, 0, 0), *done = pg_value(res, 0, 1);
    if (!author) {
        req_error(c->r, E_NOT_FOUND, "no such message");
        change_free(c);
        return;
    }
    if (!done) {
        req_error(c->r, E_FORBIDDEN, c->text ? "only the author edits a message"
                                             : "only the author or a moderator deletes a message");
        change_free(c);
        return;
    }
    if (!c->text) {
        change_publish(c, json_pack("{s:s,s:s,s:s,s:s}", "type", "chat.deleted", "circle", c->circle, "channel",
                                    c->chid, "message", c->id));
        req_ok(c->r, NULL);
        change_free(c);
        return;
    }
    json_t *m = json_loads(done, 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        req_error(c->r, E_INTERNAL, "internal error");
        change_free(c);
        return;
    }
    json_object_set_new(m, "text", json_string(c->text));
    json_object_set_new(m, "edited", json_true());
    change_publish(c, json_pack("{s:s,s:s,s:O}", "type", "chat.updated", "circle", c->circle, "message", m));
    req_ok(c->r, json_pack("{s:o}", "message", m));
    change_free(c);
}

static void change_authorised(const store_reply_t *rep, void *priv)
{
    change_t *c = priv;
    json_t *o = reply_object(rep);
    const char *cid = json_string_value(json_object_get(o, "circle"));
    if (!cid || strlen(cid) > FEATURE_ID_LEN) {
        json_decref(o);
        answer_reply(c->r, rep); /* forbidden, not_found, or Redis down */
        change_free(c);
        return;
    }
    strcpy(c->circle, cid);
    int moderates = json_is_true(json_object_get(o, "moderates"));
    json_decref(o);
    sid_t id;
    int none;
    sid_parse(c->id, &id, &none);
    char ms[24], seq[24];
    snprintf(ms, sizeof ms, "%llu", id.ms);
    snprintf(seq, sizeof seq, "%llu", id.seq);
    if (c->text) {
        const char *params[] = {c->chid, ms, seq, c->text, req_user(c->r)};
        pg_query(EDIT_SQL, 5, params, change_done, c);
    } else {
        const char *params[] = {c->chid, ms, seq, req_user(c->r), moderates ? "true" : "false"};
        pg_query(DELETE_SQL, 5, params, change_done, c);
    }
}

/* A change made in the stream, applied to its copy in PostgreSQL at once if there is one, so search stops
 * finding a deleted message (or its old text) now rather than at the next archiver round. Best effort: the
 * library marked the channel dirty, so the archiver copies the change again anyway. */
static const char MIRROR_EDIT_SQL[] =
    "UPDATE messages SET body = $4, edited = true WHERE channel = $1 AND ms = $2::bigint AND seq = $3::bigint";
static const char MIRROR_DELETE_SQL[] =
    "DELETE FROM messages WHERE channel = $1 AND ms = $2::bigint AND seq = $3::bigint";

static void mirror_change(const change_t *c)
{
    if (!pg_is_up())
        return;
    sid_t id;
    int none;
    sid_parse(c->id, &id, &none);
    char ms[24], seq[24];
    snprintf(ms, sizeof ms, "%llu", id.ms);
    snprintf(seq, sizeof seq, "%llu", id.seq);
    const char *params[] = {c->chid, ms, seq, c->text};
    pg_query(c->text ? MIRROR_EDIT_SQL : MIRROR_DELETE_SQL, c->text ? 4 : 3, params, NULL, NULL);
}

/* The stream's answer: not_found means the message may be in the archive. */
static void change_streamed(const store_reply_t *rep, void *priv)
{
    change_t *c = priv;
    size_t len = 0;
    const char *s = rep && store_type(rep) == STORE_ERR ? store_str(rep, &len) : NULL;
    if (!s || len < 10 || memcmp(s, "not_found:", 10) != 0) {
        if (store_ok(rep))
            mirror_change(c);
        answer_reply(c->r, rep);
        change_free(c);
        return;
    }
    const char *args[] = {req_user(c->r), c->chid};
    store_fcall("chat_archived_auth", change_authorised, c, 0, 2, args);
}

void archive_change(req_t *r, const char *chid, const char *id, const char *text)
{
    change_t *c = calloc(1, sizeof *c);
    if (!c || strlen(chid) > FEATURE_ID_LEN || strlen(id) >= sizeof c->id || (text && !(c->text = strdup(text)))) {
        if (c)
            change_free(c);
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    c->r = r;
    strcpy(c->chid, chid);
    strcpy(c->id, id);
    if (text) {
        const char *args[] = {req_user(r), chid, id, text};
        store_fcall("chat_edit", change_streamed, c, 0, 4, args);
    } else {
        const char *args[] = {req_user(r), chid, id};
        store_fcall("chat_delete", change_streamed, c, 0, 3, args);
    }
}
