/* comments.c — see comments.h. Each request: the user's circles (media_scope), then one SQL statement
 * that checks the item's visibility, makes the change and names the people to tell. */
#include "comments.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "feature.h"
#include "media.h"
#include "media_acl.h"
#include "pg.h"
#include "store.h"

static const char *const tags[] = {COMMENTS_TAGS, NULL};

#define COMMENT_COLUMNS                                                                                        \
    "c.id, c.media_id, c.author, c.author_name, c.at_ms, c.end_ms, c.tag, c.body, c.reply_to, c.edited, "      \
    "(extract(epoch from c.created_at) * 1000)::bigint"
#define COMMENT_NCOLUMNS 11

/* Who is told about a change to item MEDIA (an SQL expression): user ids, then circle ids, as JSON text. */
#define TELL(MEDIA)                                                                                            \
    "(SELECT coalesce(array_to_json(array_agg(x.u)), '[]')::text FROM (SELECT owner AS u FROM media WHERE id = " \
    MEDIA " UNION SELECT user_id FROM media_shares WHERE media_id = " MEDIA ") x), "                           \
    "(SELECT coalesce(array_to_json(array_agg(DISTINCT li.circle)), '[]')::text FROM library_items li"          \
    " WHERE li.media_id = " MEDIA " AND NOT li.withdrawn)"

/* $1 media, $2 user, $3 circles, $4 id, $5 author name, $6 at_ms, $7 end_ms, $8 tag, $9 text, $10 reply_to.
 * Answers one row: seen (0/1), the item's duration, the comment's columns (NULL if not added), who to tell. */
static const char ADD_SQL[] =
    "WITH v AS (SELECT m.id, m.duration_ms FROM media m WHERE m.id = $1 AND m.state = 'ready' AND "
    MEDIA_CAN_VIEW_SQL("m", "$2", "$3") "),"
    " c AS (INSERT INTO media_comments (id, media_id, author, author_name, at_ms, end_ms, tag, body, reply_to)"
    "  SELECT $4, v.id, $2, $5, $6::int, $7::int, $8, $9, $10 FROM v"
    "  WHERE (v.duration_ms IS NULL OR $6::int <= v.duration_ms)"
    "  AND ($10::text IS NULL OR EXISTS (SELECT 1 FROM media_comments r WHERE r.id = $10 AND r.media_id = v.id))"
    "  RETURNING *)"
    " SELECT (SELECT count(*) FROM v), (SELECT duration_ms FROM v), " COMMENT_COLUMNS ", " TELL("$1")
    " FROM (SELECT 1) one LEFT JOIN c ON true";

/* $1 media, $2 user, $3 circles: seen, then one row per comment (NULL columns if none). */
static const char LIST_SQL[] =
    "WITH v AS (SELECT m.id FROM media m WHERE m.id = $1 AND m.state = 'ready' AND "
    MEDIA_CAN_VIEW_SQL("m", "$2", "$3") ")"
    " SELECT (SELECT count(*) FROM v), 0, " COMMENT_COLUMNS " FROM (SELECT 1) one"
    " LEFT JOIN media_comments c ON c.media_id = (SELECT id FROM v) ORDER BY c.at_ms, c.created_at, c.id LIMIT 5001";

/* $1 comment, $2 user, $3 circles, $4 text (NULL: unchanged), $5 tag ('': unchanged, '-': none, the
 * request's "none").
 * Answers: seen, owned, the comment's columns (NULL if not changed), who to tell. */
static const char EDIT_SQL[] =
    "WITH v AS (SELECT c.id, c.media_id, c.author = $2 AS own FROM media_comments c JOIN media m ON m.id = c.media_id"
    "  WHERE c.id = $1 AND m.state = 'ready' AND " MEDIA_CAN_VIEW_SQL("m", "$2", "$3") "),"
    " c AS (UPDATE media_comments c SET body = coalesce($4, c.body), edited = true,"
    "  tag = CASE $5 WHEN '' THEN c.tag WHEN '-' THEN NULL ELSE $5 END"
    "  WHERE c.id IN (SELECT id FROM v WHERE own) RETURNING *)"
    " SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM v WHERE own), " COMMENT_COLUMNS ", "
    TELL("(SELECT media_id FROM v)") " FROM (SELECT 1) one LEFT JOIN c ON true";

static const char DELETE_SQL[] =
    "WITH v AS (SELECT c.id, c.media_id, c.author = $2 AS own FROM media_comments c JOIN media m ON m.id = c.media_id"
    "  WHERE c.id = $1 AND m.state = 'ready' AND " MEDIA_CAN_VIEW_SQL("m", "$2", "$3") "),"
    " c AS (DELETE FROM media_comments c WHERE c.id IN (SELECT id FROM v WHERE own) AND $4::text IS NULL"
    "  AND $5 = '' RETURNING *)"
    " SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM v WHERE own), " COMMENT_COLUMNS ", "
    TELL("(SELECT media_id FROM v)") " FROM (SELECT 1) one LEFT JOIN c ON true";

enum { OP_ADD, OP_LIST, OP_EDIT, OP_DELETE };

typedef struct {
    req_t *r;
    int op;
    const char *target;            /* media (add, list) or comment (edit, delete) id; borrowed from r */
    char id[FEATURE_ID_LEN + 1];   /* add: the new comment's id */
    char at[24], end[24];
    const char *tag, *text, *reply_to; /* borrowed from r; NULL when absent */
    char *author_name;
} creq_t;

static void creq_free(creq_t *c)
{
    free(c->author_name);
    free(c);
}

static long long num(const pg_result_t *res, int row, int col)
{
    const char *v = pg_value(res, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* The comment object from COMMENT_COLUMNS at col. New. */
static json_t *comment_json(const pg_result_t *res, int row, int col)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:I,s:s,s:b,s:I}", "id", pg_value(res, row, col), "media",
                          pg_value(res, row, col + 1), "author", "id", pg_value(res, row, col + 2), "display_name",
                          pg_value(res, row, col + 3) ? pg_value(res, row, col + 3) : "", "at_ms",
                          (json_int_t)num(res, row, col + 4), "text", pg_value(res, row, col + 7) ? pg_value(res, row, col + 7) : "",
                          "edited", pg_value(res, row, col + 9) && pg_value(res, row, col + 9)[0] == 't', "created_at",
                          (json_int_t)num(res, row, col + 10));
    if (o && pg_value(res, row, col + 5))
        json_object_set_new(o, "end_ms", json_integer(num(res, row, col + 5)));
    if (o && pg_value(res, row, col + 6))
        json_object_set_new(o, "tag", json_string(pg_value(res, row, col + 6)));
    if (o && pg_value(res, row, col + 8))
        json_object_set_new(o, "reply_to", json_string(pg_value(res, row, col + 8)));
    return o;
}

/* Publishes ev to the users (JSON array text at column col) and circles (at col + 1). */
static void tell(const pg_result_t *res, int col, json_t *ev)
{
    for (int k = 0; k < 2; k++) {
        const char *text = pg_value(res, 0, col + k);
        json_t *ids = text ? json_loads(text, 0, NULL) : NULL;
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v)
        {
            const char *id = json_string_value(v);
            if (id && feature_id_valid(id)) {
                if (k == 0)
                    bus_publish_user(id, ev);
                else
                    bus_publish_circle(id, ev);
            }
        }
        json_decref(ids);
    }
}

static void done(const pg_result_t *res, void *priv)
{
    creq_t *c = priv;
    req_t *r = c->r;
    if (!res || pg_ntuples(res) < 1) {
        req_error(r, E_UNAVAILABLE, "comments are not available right now; try again");
    } else if (num(res, 0, 0) == 0) {
        req_error(r, E_NOT_FOUND, c->op == OP_ADD || c->op == OP_LIST ? "no such media" : "no such comment");
    } else if (c->op == OP_LIST) {
        json_t *list = json_array();
        for (int i = 0; i < pg_ntuples(res) && i < 5000; i++)
            if (pg_value(res, i, 2))
                json_array_append_new(list, comment_json(res, i, 2));
        req_ok(r, json_pack("{s:s,s:o}", "media", c->target, "comments", list));
    } else if (c->op != OP_ADD && num(res, 0, 1) == 0) {
        req_error(r, E_FORBIDDEN, "only its author may change a comment");
    } else if (!pg_value(res, 0, 2)) {
        if (c->op != OP_ADD)
            req_error(r, E_NOT_FOUND, "no such comment");
        else if (pg_value(res, 0, 1) && strtoll(c->at, NULL, 10) > num(res, 0, 1))
            req_error_ex(r, E_BAD_REQUEST, "at_ms", 0, "at_ms: after the end of the clip (%lld ms)", num(res, 0, 1));
        else
            req_error_ex(r, E_NOT_FOUND, "reply_to", 0, "reply_to: no such comment on this clip");
    } else {
        json_t *comment = comment_json(res, 0, 2);
        static const char *const evs[] = {[OP_ADD] = "comment.added", [OP_EDIT] = "comment.edited",
                                          [OP_DELETE] = "comment.deleted"};
        json_t *ev = c->op == OP_DELETE
                         ? json_pack("{s:s,s:s,s:s}", "type", evs[c->op], "media", pg_value(res, 0, 3), "comment",
                                     pg_value(res, 0, 2))
                         : json_pack("{s:s,s:s,s:O}", "type", evs[c->op], "media", pg_value(res, 0, 3), "comment", comment);
        if (ev)
            tell(res, 2 + COMMENT_NCOLUMNS, ev);
        json_decref(ev);
        if (c->op == OP_DELETE) {
            json_decref(comment);
            req_ok(r, NULL);
        } else {
            req_ok(r, json_pack("{s:o}", "comment", comment));
        }
    }
    creq_free(c);
}

static void scoped(const char *circles, void *priv)
{
    creq_t *c = priv;
    if (!circles) {
        req_error(c->r, E_UNAVAILABLE, "the server cannot check access right now; try again");
        creq_free(c);
        return;
    }
    const char *user = req_user(c->r);
    if (c->op == OP_ADD) {
        const char *p[] = {c->target, user, circles, c->id, c->author_name ? c->author_name : "", c->at,
                           c->end[0] ? c->end : NULL, c->tag, c->text, c->reply_to};
        pg_query(ADD_SQL, 10, p, done, c);
    } else if (c->op == OP_LIST) {
        const char *p[] = {c->target, user, circles};
        pg_query(LIST_SQL, 3, p, done, c);
    } else {
        const char *tag = c->tag ? (strcmp(c->tag, "none") != 0 ? c->tag : "-") : "";
        const char *p[] = {c->target, user, circles, c->op == OP_EDIT ? c->text : NULL, c->op == OP_EDIT ? tag : ""};
        pg_query(c->op == OP_EDIT ? EDIT_SQL : DELETE_SQL, 5, p, done, c);
    }
}

static creq_t *creq_new(req_t *r, int op, const char *field)
{
    const char *target;
    if (feature_req_id(r, field, 0, 1, &target) < 0)
        return NULL;
    if (!pg_configured()) {
        req_error(r, E_UNAVAILABLE, "comments need PostgreSQL, which this server does not have");
        return NULL;
    }
    creq_t *c = calloc(1, sizeof *c);
    if (!c) {
        req_error(r, E_INTERNAL, "out of memory");
        return NULL;
    }
    c->r = r;
    c->op = op;
    c->target = target;
    return c;
}

static void named(const store_reply_t *rep, void *priv)
{
    creq_t *c = priv;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, NULL) : NULL;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    const char *name = json_string_value(json_object_get(json_object_get(o, "user"), "display_name"));
    c->author_name = strdup(name ? name : "");
    json_decref(o);
    media_scope(req_user(c->r), scoped, c);
}

static void comment_add(req_t *r)
{
    long long at, end = -1;
    const char *text, *tag = NULL, *reply_to = NULL;
    if (req_int(r, "at_ms", 0, 24LL * 3600 * 1000, 1, &at) < 0 ||
        req_int(r, "end_ms", 1, 24LL * 3600 * 1000, 0, &end) < 0 ||
        req_str(r, "text", 1, COMMENTS_TEXT_MAX, 1, &text) < 0 || feature_req_enum(r, "tag", tags, 0, &tag) < 0 ||
        feature_req_id(r, "reply_to", 0, 0, &reply_to) < 0)
        return;
    if (end >= 0 && end <= at) {
        req_error_ex(r, E_BAD_REQUEST, "end_ms", 0, "end_ms: must be after at_ms");
        return;
    }
    creq_t *c = creq_new(r, OP_ADD, "media");
    if (!c)
        return;
    if (feature_id_new(c->id) < 0) {
        req_error(r, E_INTERNAL, "no random source");
        creq_free(c);
        return;
    }
    snprintf(c->at, sizeof c->at, "%lld", at);
    if (end >= 0)
        snprintf(c->end, sizeof c->end, "%lld", end);
    c->tag = tag;
    c->text = text;
    c->reply_to = reply_to;
    const char *args[] = {req_user(r)};
    store_fcall("media_person", named, c, 0, 1, args);
}

static void comment_list(req_t *r)
{
    creq_t *c = creq_new(r, OP_LIST, "media");
    if (c)
        media_scope(req_user(r), scoped, c);
}

static void comment_edit(req_t *r)
{
    const char *text = NULL, *tag = NULL;
    static const char *const tags_or_none[] = {COMMENTS_TAGS, "none", NULL};
    if (req_str(r, "text", 1, COMMENTS_TEXT_MAX, 0, &text) < 0 || feature_req_enum(r, "tag", tags_or_none, 0, &tag) < 0)
        return;
    if (!text && !tag) {
        req_error_ex(r, E_BAD_REQUEST, "text", 0, "text or tag: nothing to change");
        return;
    }
    creq_t *c = creq_new(r, OP_EDIT, "comment");
    if (!c)
        return;
    c->text = text;
    c->tag = tag;
    media_scope(req_user(r), scoped, c);
}

static void comment_delete(req_t *r)
{
    creq_t *c = creq_new(r, OP_DELETE, "comment");
    if (c)
        media_scope(req_user(r), scoped, c);
}

static const handler_t handlers[] = {
    {"comment.add", comment_add, H_RL_MSG},
    {"comment.list", comment_list, H_RL_READ},
    {"comment.edit", comment_edit, H_RL_MSG},
    {"comment.delete", comment_delete, H_RL_MSG},
    {NULL, NULL, 0},
};

const module_t comments_module = {
    .name = "comments",
    .handlers = handlers,
};
