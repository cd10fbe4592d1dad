/* history.c — see history.h. Reading is one Redis call and at most one PostgreSQL query; a change is one
 * Redis call, and for an archived message one more Redis call, one SQL statement and the event. */
#include "history.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature.h"
#include "msg.h"
#include "pg.h"
#include "store.h"
#include "streamid.h"

/* chat.history below the stream: newest first (backwards) or oldest first (forwards), exclusive bounds. */
static const char OLDER_SQL[] =
    "SELECT ms, seq, body, edited, msg FROM messages WHERE channel = $1"
    " AND (ms, seq) > ($2::bigint, $3::bigint) AND (ms, seq) < ($4::bigint, $5::bigint)"
    " ORDER BY ms DESC, seq DESC LIMIT $6::int";
static const char NEWER_SQL[] =
    "SELECT ms, seq, body, edited, msg FROM messages WHERE channel = $1"
    " AND (ms, seq) > ($2::bigint, $3::bigint) AND (ms, seq) < ($4::bigint, $5::bigint)"
    " ORDER BY ms, seq LIMIT $6::int";

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
static int hist_needs_archive(const hist_t *h, int archived_none, streamid_t archived, streamid_t after)
{
    if (archived_none)
        return 0;
    if (h->forward)
        return streamid_cmp(after, archived) < 0;
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
    streamid_t hi, lo, first, archived;
    int hi_none = !streamid_parse(h->before, &hi), lo_none = !streamid_parse(h->after, &lo);
    int first_none = !streamid_parse(json_string_value(json_object_get(h->page, "first")), &first);
    int archived_none = !streamid_parse(json_string_value(json_object_get(h->page, "archived")), &archived);
    json_object_del(h->page, "first");
    json_object_del(h->page, "archived");
    if (!hist_needs_archive(h, archived_none, archived, lo)) {
        req_ok(h->r, json_incref(h->page));
        hist_free(h);
        return;
    }
    /* The archive holds only ids below the stream's oldest: bound the query by it (no duplicate at the
     * boundary while a copied range awaits its trim) and by `before`. */
    if (hi_none)
        hi = streamid_max();
    if (!first_none && streamid_cmp(first, hi) < 0)
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

void history_read(req_t *r, const char *chid, const char *before, const char *after, long long limit)
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
 * (deletion). $1 channel, $2/$3 the id; edit: $4 the text, $5 the user (only the author edits); deletion:
 * $4 the user, $5 'true' if they moderate the circle (or are an admin). */
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
    streamid_t id;
    streamid_parse(c->id, &id);
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
 * channel was marked dirty first, so the archiver copies the change again anyway. */
static const char MIRROR_EDIT_SQL[] =
    "UPDATE messages SET body = $4, edited = true WHERE channel = $1 AND ms = $2::bigint AND seq = $3::bigint";
static const char MIRROR_DELETE_SQL[] =
    "DELETE FROM messages WHERE channel = $1 AND ms = $2::bigint AND seq = $3::bigint";

static void mirror_change(const change_t *c)
{
    if (!pg_is_up())
        return;
    streamid_t id;
    streamid_parse(c->id, &id);
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

/* The channel is marked dirty from the message (if the archive copied it): now the change itself. */
static void change_marked(const store_reply_t *rep, void *priv)
{
    change_t *c = priv;
    if (!store_ok(rep)) {
        req_store_error(c->r, rep);
        change_free(c);
        return;
    }
    if (c->text) {
        const char *args[] = {req_user(c->r), c->chid, c->id, c->text};
        store_fcall("chat_edit", change_streamed, c, 0, 4, args);
    } else {
        const char *args[] = {req_user(c->r), c->chid, c->id};
        store_fcall("chat_delete", change_streamed, c, 0, 3, args);
    }
}

void history_change(req_t *r, const char *chid, const char *id, const char *text)
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
    /* Marked before the change, so the archiver cannot trim the old copy in between (lua/archive.lua). */
    const char *args[] = {chid, id};
    store_fcall("archive_dirty", change_marked, c, 0, 2, args);
}

/* ---- moderation.audit across the stream and the archive ---- */

static const char AUDIT_SQL[] =
    "SELECT entry FROM audit_log WHERE circle = $1 AND (ms, seq) < ($2::bigint, $3::bigint)"
    " ORDER BY ms DESC, seq DESC LIMIT $4::int";

typedef struct {
    req_t *r;
    json_t *entries; /* the stream's part, newest first; PostgreSQL's rows are appended */
    long long limit, need; /* need: rows wanted from PostgreSQL (one more than the page takes) */
    char cid[FEATURE_ID_LEN + 1];
    char before[48];
} audit_t;

static void audit_free(audit_t *a)
{
    json_decref(a->entries);
    free(a);
}

static void audit_rows(const pg_result_t *res, void *priv)
{
    audit_t *a = priv;
    if (!res) {
        req_error(a->r, E_UNAVAILABLE, "the audit log archive is not reachable; try again");
        audit_free(a);
        return;
    }
    int n = pg_ntuples(res);
    for (int i = 0; i < n && (long long)json_array_size(a->entries) < a->limit; i++) {
        const char *text = pg_value(res, i, 0);
        json_t *e = text ? json_loads(text, 0, NULL) : NULL;
        if (json_is_object(e))
            json_array_append_new(a->entries, e);
        else
            json_decref(e);
    }
    req_ok(a->r, json_pack("{s:O,s:b}", "entries", a->entries, "has_more", (long long)n >= a->need));
    audit_free(a);
}

static void audit_stream(const store_reply_t *rep, void *priv)
{
    audit_t *a = priv;
    json_t *o = reply_object(rep);
    json_t *entries = json_object_get(o, "entries");
    const char *below = json_string_value(json_object_get(o, "below"));
    if (!json_is_array(entries) || !below) {
        json_decref(o);
        req_store_error(a->r, rep); /* forbidden, not_found, or Redis down */
        audit_free(a);
        return;
    }
    a->entries = json_incref(entries);
    int stream_more = json_is_true(json_object_get(o, "has_more"));
    streamid_t below_id = {0, 0};
    int has_below = streamid_parse(below, &below_id) == 1; /* below is o's: read before o goes */
    json_decref(o);
    if (stream_more) { /* the page is full of entries not copied yet */
        req_ok(a->r, json_pack("{s:O,s:b}", "entries", a->entries, "has_more", 1));
        audit_free(a);
        return;
    }
    /* PostgreSQL below min(before, below); "" below: no bound but before */
    streamid_t bound = streamid_max(), b;
    if (streamid_parse(a->before, &b) == 1 && streamid_cmp(b, bound) < 0)
        bound = b;
    if (has_below && streamid_cmp(below_id, bound) < 0)
        bound = below_id;
    a->need = a->limit - (long long)json_array_size(a->entries) + 1;
    char ms[24], seq[24], lim[24];
    snprintf(ms, sizeof ms, "%llu", (unsigned long long)bound.ms);
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)bound.seq);
    snprintf(lim, sizeof lim, "%lld", a->need);
    const char *params[] = {a->cid, ms, seq, lim};
    pg_query(AUDIT_SQL, 4, params, audit_rows, a);
}

void history_audit(req_t *r, const char *cid, const char *before, long long limit)
{
    audit_t *a = calloc(1, sizeof *a);
    if (!a) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    a->r = r;
    a->limit = limit;
    snprintf(a->cid, sizeof a->cid, "%s", cid);
    snprintf(a->before, sizeof a->before, "%s", before);
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), cid, before, lim, "1"};
    store_fcall("moderation_audit", audit_stream, a, 0, 5, args);
}
