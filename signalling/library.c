/* library.c — see library.h. Each request: the user's circles and roles from Redis (library_scope), then
 * one SQL statement that checks membership (or authorship, or moderation) and reads or changes the library. */
#include "library.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "feature.h"
#include "media_acl.h"
#include "pg.h"
#include "store.h"

/* One item as the client sees it, from alias li; U is the placeholder of the asking user (for "marked"). */
#define ITEM_COLUMNS(U)                                                                                        \
    "li.id, li.circle, li.author, li.kind, li.media_id, li.url, li.title, li.description, li.subject, "       \
    "li.phase, array_to_json(li.tags)::text, li.useful, (extract(epoch from li.created_at) * 1000)::bigint, " \
    "(extract(epoch from li.created_at) * 1000000)::bigint, "                                                 \
    "EXISTS (SELECT 1 FROM library_useful u WHERE u.item = li.id AND u.user_id = " U "), "                   \
    "(SELECT m.duration_ms FROM media m WHERE m.id = li.media_id), "                                        \
    "(SELECT m.mime FROM media m WHERE m.id = li.media_id), (SELECT m.bytes FROM media m WHERE m.id = li.media_id), " \
    "(SELECT m.meta->>'format' FROM media m WHERE m.id = li.media_id AND m.kind = 'file')"
#define ITEM_NCOLUMNS 19

/* $1 id, $2 circle, $3 user, $4 circles, $5 media, $6 url, $7 title, $8 description, $9 subject, $10 phase,
 * $11 tags. Answers: member (t/f), media seen, media owned, already published here, then the item (NULL
 * columns if not added). */
static const char PUBLISH_SQL[] =
    "WITH ok AS (SELECT $2::text = ANY($4::text[]) AS member),"
    " m AS (SELECT m.id, m.kind, m.owner = $3 AS own FROM media m WHERE m.id = $5 AND m.state = 'ready' AND "
    MEDIA_CAN_VIEW_SQL("m", "$3", "$4") "),"
    " dup AS (SELECT 1 FROM library_items x WHERE x.circle = $2 AND x.media_id = $5 AND NOT x.withdrawn),"
    " ins AS (INSERT INTO library_items (id, circle, author, kind, media_id, url, title, description, subject,"
    "  phase, tags)"
    "  SELECT $1, $2, $3, coalesce((SELECT kind FROM m), 'link'), $5, $6, $7, $8, $9, $10, $11::text[] FROM ok"
    "  WHERE ok.member AND ($5::text IS NULL OR (EXISTS (SELECT 1 FROM m WHERE own) AND NOT EXISTS (SELECT 1 FROM dup)))"
    "  RETURNING *)"
    " SELECT (SELECT member FROM ok), (SELECT count(*) FROM m), (SELECT count(*) FROM m WHERE own),"
    " (SELECT count(*) FROM dup), " ITEM_COLUMNS("$3") " FROM (SELECT 1) one LEFT JOIN ins li ON true";

#define LIST_ORDER(A) "CASE WHEN $5 = 'useful' THEN " A ".useful ELSE 0 END DESC, " A ".created_at DESC, " A ".id DESC"
/* $1 circle, $2 circles, $3 words ('' none), $4 tags (all of them), $5 sort, $6 7 8 the cursor (useful,
 * created µs, id; NULL: first page), $9 user, $10 limit + 1. Answers: member, then the page's items. */
static const char LIST_SQL[] =
    "SELECT one.member, " ITEM_COLUMNS("$9") " FROM (SELECT $1::text = ANY($2::text[]) AS member) one"
    " LEFT JOIN LATERAL (SELECT * FROM library_items l WHERE one.member AND l.circle = $1 AND NOT l.withdrawn"
    "  AND ($3 = '' OR l.tsv @@ websearch_to_tsquery('english', $3)) AND l.tags @> $4::text[]"
    "  AND (l.media_id IS NULL OR EXISTS (SELECT 1 FROM media m WHERE m.id = l.media_id AND m.state = 'ready'))"
    "  AND ($6::int IS NULL OR (CASE WHEN $5 = 'useful' THEN l.useful ELSE 0 END,"
    "   (extract(epoch from l.created_at) * 1000000)::bigint, l.id) < ($6::int, $7::bigint, $8::text))"
    "  ORDER BY " LIST_ORDER("l") " LIMIT $10::int) li ON true ORDER BY " LIST_ORDER("li");

/* $1 item, $2 user, $3 circles, $4 useful (t/f). Answers: seen, the count now, changed (0/1), circle. */
static const char USEFUL_SQL[] =
    "WITH v AS (SELECT li.id, li.circle FROM library_items li WHERE li.id = $1 AND NOT li.withdrawn"
    "  AND li.circle = ANY($3::text[])),"
    " ins AS (INSERT INTO library_useful (item, user_id) SELECT id, $2 FROM v WHERE $4::boolean"
    "  ON CONFLICT DO NOTHING RETURNING item),"
    " del AS (DELETE FROM library_useful u WHERE u.item IN (SELECT id FROM v) AND u.user_id = $2 AND NOT $4::boolean"
    "  RETURNING item),"
    " upd AS (UPDATE library_items li SET useful = li.useful + (SELECT count(*) FROM ins) - (SELECT count(*) FROM del)"
    "  WHERE li.id IN (SELECT id FROM v) RETURNING li.useful)"
    " SELECT (SELECT count(*) FROM v), (SELECT useful FROM upd),"
    " (SELECT count(*) FROM ins) + (SELECT count(*) FROM del), (SELECT circle FROM v)";

/* $1 item, $2 user, $3 circles, $4 circles moderated, $5 admin (t/f). Answers: seen, withdrawn now, circle. */
static const char WITHDRAW_SQL[] =
    "WITH v AS (SELECT li.id, li.circle, (li.author = $2 OR li.circle = ANY($4::text[]) OR $5::boolean) AS may"
    "  FROM library_items li WHERE li.id = $1 AND NOT li.withdrawn"
    "  AND (li.circle = ANY($3::text[]) OR li.author = $2 OR $5::boolean)),"
    " w AS (UPDATE library_items li SET withdrawn = true WHERE li.id IN (SELECT id FROM v WHERE may) RETURNING li.id)"
    " SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM w), (SELECT circle FROM v)";

enum { OP_PUBLISH, OP_LIST, OP_USEFUL, OP_WITHDRAW };
static const char *const sorts[] = {"newest", "useful", NULL};

typedef struct {
    req_t *r;
    int op;
    const char *circle, *item, *media, *url, *title, *description, *subject, *phase, *query, *sort; /* borrowed */
    char id[FEATURE_ID_LEN + 1];
    char *tags;                      /* PostgreSQL text[] literal; owned */
    char cur_u[16], cur_us[24], cur_id[FEATURE_ID_LEN + 1]; /* cur_u empty: first page */
    int limit, useful;
} lreq_t;

static void lreq_free(lreq_t *l)
{
    free(l->tags);
    free(l);
}

static long long num(const pg_result_t *res, int row, int col)
{
    const char *v = pg_value(res, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static const char *str(const pg_result_t *res, int row, int col)
{
    const char *v = pg_value(res, row, col);
    return v ? v : "";
}

/* The item object from ITEM_COLUMNS at col. New. */
static json_t *item_json(const pg_result_t *res, int row, int col)
{
    json_t *tags = json_loads(str(res, row, col + 10), 0, NULL);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:b}", "id", str(res, row, col), "circle",
                          str(res, row, col + 1), "author", str(res, row, col + 2), "kind", str(res, row, col + 3),
                          "title", str(res, row, col + 6), "description", str(res, row, col + 7), "subject",
                          str(res, row, col + 8), "phase", str(res, row, col + 9), "tags",
                          json_is_array(tags) ? tags : json_array(), "useful", (json_int_t)num(res, row, col + 11),
                          "created_at", (json_int_t)num(res, row, col + 12), "marked",
                          str(res, row, col + 14)[0] == 't');
    if (!json_is_array(tags))
        json_decref(tags);
    if (o && pg_value(res, row, col + 4))
        json_object_set_new(o, "media", json_string(pg_value(res, row, col + 4)));
    if (o && pg_value(res, row, col + 5))
        json_object_set_new(o, "url", json_string(pg_value(res, row, col + 5)));
    if (o && pg_value(res, row, col + 15))
        json_object_set_new(o, "duration_ms", json_integer(num(res, row, col + 15)));
    /* media items: what the file is (from probing its content) and how large, to show before a download */
    if (o && pg_value(res, row, col + 16)) {
        json_object_set_new(o, "mime", json_string(str(res, row, col + 16)));
        json_object_set_new(o, "bytes", json_integer(num(res, row, col + 17)));
    }
    if (o && pg_value(res, row, col + 18))
        json_object_set_new(o, "format", json_string(str(res, row, col + 18)));
    return o;
}

static void publish_done(lreq_t *l, const pg_result_t *res)
{
    req_t *r = l->r;
    if (str(res, 0, 0)[0] != 't') {
        req_error_ex(r, E_FORBIDDEN, "circle", 0, "only members of the circle may publish to its library");
    } else if (l->media && num(res, 0, 1) == 0) {
        req_error_ex(r, E_NOT_FOUND, "media", 0, "media: no such clip or document");
    } else if (l->media && num(res, 0, 2) == 0) {
        req_error_ex(r, E_FORBIDDEN, "media", 0, "media: only its owner may publish a clip or document");
    } else if (l->media && num(res, 0, 3) > 0) {
        req_error_ex(r, E_CONFLICT, "media", 0, "media: already in this circle's library");
    } else if (!pg_value(res, 0, 4)) {
        req_error(r, E_UNAVAILABLE, "the library is not available right now; try again");
    } else {
        json_t *item = item_json(res, 0, 4);
        json_t *ev = json_pack("{s:s,s:O}", "type", "library.published", "item", item);
        if (ev)
            bus_publish_circle(l->circle, ev);
        json_decref(ev);
        req_ok(r, json_pack("{s:o}", "item", item));
    }
}

static void list_done(lreq_t *l, const pg_result_t *res)
{
    req_t *r = l->r;
    if (str(res, 0, 0)[0] != 't') {
        req_error_ex(l->r, E_FORBIDDEN, "circle", 0, "only members of the circle may read its library");
        return;
    }
    json_t *items = json_array();
    int n = 0, more = 0;
    for (int i = 0; i < pg_ntuples(res); i++) {
        if (!pg_value(res, i, 1))
            continue;
        if (n == l->limit) {
            more = 1;
            break;
        }
        json_array_append_new(items, item_json(res, i, 1));
        n++;
    }
    json_t *out = json_pack("{s:s,s:s,s:o}", "circle", l->circle, "sort", l->sort, "items", items);
    if (out && more) {
        /* the last item shown: where the next page starts (useful.created_us.id) */
        int last = 0;
        for (int i = 0, k = 0; i < pg_ntuples(res); i++)
            if (pg_value(res, i, 1) && ++k == n)
                last = i;
        char cur[96];
        snprintf(cur, sizeof cur, "%lld.%lld.%s", strcmp(l->sort, "useful") == 0 ? num(res, last, 12) : 0LL,
                 num(res, last, 14), str(res, last, 1));
        json_object_set_new(out, "cursor", json_string(cur));
    }
    req_ok(r, out);
}

static void useful_done(lreq_t *l, const pg_result_t *res)
{
    if (num(res, 0, 0) == 0) {
        req_error_ex(l->r, E_NOT_FOUND, "item", 0, "item: no such item in a library of yours");
        return;
    }
    long long count = num(res, 0, 1);
    if (num(res, 0, 2) > 0 && pg_value(res, 0, 3)) {
        json_t *ev = json_pack("{s:s,s:s,s:I}", "type", "library.useful", "item", l->item, "useful", (json_int_t)count);
        if (ev)
            bus_publish_circle(pg_value(res, 0, 3), ev);
        json_decref(ev);
    }
    req_ok(l->r, json_pack("{s:s,s:I,s:b,s:b}", "item", l->item, "useful", (json_int_t)count, "marked", l->useful,
                           "changed", num(res, 0, 2) > 0));
}

static void withdraw_done(lreq_t *l, const pg_result_t *res)
{
    if (num(res, 0, 0) == 0) {
        req_error_ex(l->r, E_NOT_FOUND, "item", 0, "item: no such item in a library of yours");
    } else if (num(res, 0, 1) == 0) {
        req_error(l->r, E_FORBIDDEN, "only its author or a moderator of the circle may withdraw an item");
    } else {
        json_t *ev = json_pack("{s:s,s:s,s:s}", "type", "library.withdrawn", "item", l->item, "circle", str(res, 0, 2));
        if (ev && pg_value(res, 0, 2))
            bus_publish_circle(pg_value(res, 0, 2), ev);
        json_decref(ev);
        req_ok(l->r, NULL);
    }
}

static void done(const pg_result_t *res, void *priv)
{
    lreq_t *l = priv;
    static void (*const ops[])(lreq_t *, const pg_result_t *) = {
        [OP_PUBLISH] = publish_done, [OP_LIST] = list_done, [OP_USEFUL] = useful_done, [OP_WITHDRAW] = withdraw_done};
    if (!res || pg_ntuples(res) < 1)
        req_error(l->r, E_UNAVAILABLE, "the library is not available right now; try again");
    else
        ops[l->op](l, res);
    lreq_free(l);
}

static void scoped(const store_reply_t *rep, void *priv)
{
    lreq_t *l = priv;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, NULL) : NULL;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    const json_t *in = json_object_get(o, "circles");
    char *circles = json_is_array(in) ? feature_ids_pg_array(in, NULL, NULL) : NULL;
    char *moderates = circles ? feature_ids_pg_array(json_object_get(o, "moderates"), NULL, NULL) : NULL;
    const char *admin = json_is_true(json_object_get(o, "admin")) ? "t" : "f";
    const char *user = req_user(l->r);
    char limit[16];
    snprintf(limit, sizeof limit, "%d", l->limit + 1);
    if (!circles || !moderates) {
        req_error(l->r, E_UNAVAILABLE, "the server cannot check access right now; try again");
        lreq_free(l);
    } else if (l->op == OP_PUBLISH) {
        const char *p[] = {l->id,    l->circle,      user,       circles,   l->media, l->url,
                           l->title, l->description, l->subject, l->phase, l->tags};
        pg_query(PUBLISH_SQL, 11, p, done, l);
    } else if (l->op == OP_LIST) {
        const char *c = l->cur_u[0] ? l->cur_u : NULL;
        const char *p[] = {l->circle, circles, l->query, l->tags, l->sort, c, c ? l->cur_us : NULL,
                           c ? l->cur_id : NULL, user, limit};
        pg_query(LIST_SQL, 10, p, done, l);
    } else if (l->op == OP_USEFUL) {
        const char *p[] = {l->item, user, circles, l->useful ? "t" : "f"};
        pg_query(USEFUL_SQL, 4, p, done, l);
    } else {
        const char *p[] = {l->item, user, circles, moderates, admin};
        pg_query(WITHDRAW_SQL, 5, p, done, l);
    }
    free(circles);
    free(moderates);
    json_decref(o);
}

static lreq_t *lreq_new(req_t *r, int op)
{
    if (!pg_configured()) {
        req_error(r, E_UNAVAILABLE, "the library needs PostgreSQL, which this server does not have");
        return NULL;
    }
    lreq_t *l = calloc(1, sizeof *l);
    if (!l) {
        req_error(r, E_INTERNAL, "out of memory");
        return NULL;
    }
    l->r = r;
    l->op = op;
    l->limit = LIBRARY_PAGE;
    return l;
}

static void start(lreq_t *l)
{
    const char *args[] = {req_user(l->r)};
    store_fcall("library_scope", scoped, l, 0, 1, args);
}

/* The optional "tags" array into l->tags ({"a","b"}, lower case). 0, or -1 after answering bad_request. */
static int read_tags(req_t *r, lreq_t *l)
{
    json_t *tags = json_object_get(req_json(r), "tags");
    size_t n = json_array_size(tags);
    if (tags && (!json_is_array(tags) || n > LIBRARY_TAGS_MAX)) {
        req_error_ex(r, E_BAD_REQUEST, "tags", 0, "tags: an array of at most %d tags", LIBRARY_TAGS_MAX);
        return -1;
    }
    char *out = malloc(n * (LIBRARY_TAG_MAX + 3) + 3), *p = out;
    if (!out) {
        req_error(r, E_INTERNAL, "out of memory");
        return -1;
    }
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        const char *t = json_string_value(json_array_get(tags, i));
        size_t len = t ? strlen(t) : 0;
        int ok = len >= 1 && len <= LIBRARY_TAG_MAX;
        for (size_t k = 0; ok && k < len; k++)
            ok = isalnum((unsigned char)t[k]) || t[k] == '-';
        if (!ok) {
            free(out);
            req_error_ex(r, E_BAD_REQUEST, "tags", 0, "tags: each tag is 1-%d letters, digits or '-'", LIBRARY_TAG_MAX);
            return -1;
        }
        *p++ = i ? ',' : '"';
        if (i)
            *p++ = '"';
        for (size_t k = 0; k < len; k++)
            *p++ = (char)tolower((unsigned char)t[k]);
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    l->tags = out;
    return 0;
}

/* 1 if u is an http(s) URL without spaces or control characters. */
static int url_ok(const char *u)
{
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return 0;
    const char *host = strstr(u, "://") + 3;
    if (!*host || *host == '/')
        return 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

static void library_publish(req_t *r)
{
    const char *circle, *media = NULL, *url = NULL, *title, *description = "", *subject = "", *phase = "";
    if (feature_req_id(r, "circle", 0, 1, &circle) < 0 || feature_req_id(r, "media", 0, 0, &media) < 0 ||
        req_str(r, "url", 1, LIBRARY_URL_MAX, 0, &url) < 0 || req_str(r, "title", 1, LIBRARY_TITLE_MAX, 1, &title) < 0 ||
        req_str(r, "description", 0, LIBRARY_DESCRIPTION_MAX, 0, &description) < 0 ||
        req_str(r, "subject", 0, LIBRARY_FIELD_MAX, 0, &subject) < 0 ||
        req_str(r, "phase", 0, LIBRARY_FIELD_MAX, 0, &phase) < 0)
        return;
    if (!media == !url) {
        req_error_ex(r, E_BAD_REQUEST, "media", 0, "media or url: exactly one of them");
        return;
    }
    if (url && !url_ok(url)) {
        req_error_ex(r, E_BAD_REQUEST, "url", 0, "url: an http:// or https:// address without spaces");
        return;
    }
    lreq_t *l = lreq_new(r, OP_PUBLISH);
    if (!l)
        return;
    if (read_tags(r, l) < 0) {
        lreq_free(l);
        return;
    }
    if (feature_id_new(l->id) < 0) {
        req_error(r, E_INTERNAL, "no random source");
        lreq_free(l);
        return;
    }
    l->circle = circle;
    l->media = media;
    l->url = url;
    l->title = title;
    l->description = description;
    l->subject = subject;
    l->phase = phase;
    start(l);
}

/* "useful.created_us.id" (as list_done writes it) into l. 0, or -1 if malformed. */
static int read_cursor(lreq_t *l, const char *c)
{
    const char *d1 = strchr(c, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || d1 == c || d2 == d1 + 1 || (size_t)(d1 - c) >= 10 || (size_t)(d2 - d1 - 1) >= 20 ||
        !feature_id_valid(d2 + 1))
        return -1;
    for (const char *p = c; p < d2; p++)
        if (p != d1 && !isdigit((unsigned char)*p))
            return -1;
    snprintf(l->cur_u, sizeof l->cur_u, "%.*s", (int)(d1 - c), c);
    snprintf(l->cur_us, sizeof l->cur_us, "%.*s", (int)(d2 - d1 - 1), d1 + 1);
    snprintf(l->cur_id, sizeof l->cur_id, "%s", d2 + 1);
    return 0;
}

static void library_list(req_t *r)
{
    const char *circle, *query = "", *sort = "newest", *cursor = NULL;
    long long limit = LIBRARY_PAGE;
    if (feature_req_id(r, "circle", 0, 1, &circle) < 0 || req_str(r, "query", 0, LIBRARY_QUERY_MAX, 0, &query) < 0 ||
        feature_req_enum(r, "sort", sorts, 0, &sort) < 0 || req_str(r, "cursor", 1, 80, 0, &cursor) < 0 ||
        req_int(r, "limit", 1, 50, 0, &limit) < 0)
        return;
    lreq_t *l = lreq_new(r, OP_LIST);
    if (!l)
        return;
    if (cursor && read_cursor(l, cursor) < 0) {
        req_error_ex(r, E_BAD_REQUEST, "cursor", 0, "cursor: not one this server gave");
        lreq_free(l);
        return;
    }
    if (read_tags(r, l) < 0) {
        lreq_free(l);
        return;
    }
    l->circle = circle;
    l->query = query;
    l->sort = sort;
    l->limit = (int)limit;
    start(l);
}

static void library_useful(req_t *r)
{
    const char *item;
    int useful;
    if (feature_req_id(r, "item", 0, 1, &item) < 0 || req_bool(r, "useful", 1, &useful) < 0)
        return;
    lreq_t *l = lreq_new(r, OP_USEFUL);
    if (!l)
        return;
    l->item = item;
    l->useful = useful;
    start(l);
}

static void library_withdraw(req_t *r)
{
    const char *item;
    if (feature_req_id(r, "item", 0, 1, &item) < 0)
        return;
    lreq_t *l = lreq_new(r, OP_WITHDRAW);
    if (!l)
        return;
    l->item = item;
    start(l);
}

static const handler_t handlers[] = {
    {"library.publish", library_publish, H_RL_MSG},
    {"library.list", library_list, H_RL_READ},
    {"library.useful", library_useful, H_RL_MSG},
    {"library.withdraw", library_withdraw, H_RL_MSG},
    {NULL, NULL, 0},
};

const module_t library_module = {
    .name = "library",
    .handlers = handlers,
};
