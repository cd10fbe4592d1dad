/* search.c — see search.h. One Redis call (the scope), then one SQL statement. */
#include "search.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "feature.h"
#include "msg.h"
#include "pg.h"
#include "store.h"

/* $1 query, $2 circles (a PostgreSQL text[] literal), $3 channel ("" = any), $4 limit + 1, $5 offset.
 * Ranking (ts_rank_cd reads every candidate's tsvector) is done among the newest SEARCH_CANDIDATES matches:
 * a one-word query matching tens of thousands of messages stays fast, and newer matches are what teachers
 * look for. Snippets mark matches with « and » (the client escapes the text, then styles the marks). */
#define SEARCH_CANDIDATES "2000"
static const char SEARCH_SQL[] =
    "WITH q AS (SELECT websearch_to_tsquery('english'::regconfig, $1) AS q),"
    " hits AS (SELECT m.* FROM messages m, q"
    "  WHERE m.tsv @@ q.q AND m.circle = ANY($2::text[]) AND ($3 = '' OR m.channel = $3)"
    "  ORDER BY m.ms DESC, m.seq DESC LIMIT " SEARCH_CANDIDATES ")"
    " SELECT h.channel, h.circle, h.body, h.edited, h.msg, ts_rank_cd(h.tsv, q.q) AS rank,"
    " ts_headline('english'::regconfig, h.body, q.q, 'StartSel=«, StopSel=», MaxWords=30, MinWords=8, MaxFragments=2')"
    " FROM hits h, q ORDER BY rank DESC, h.ms DESC, h.seq DESC LIMIT $4::int OFFSET $5::int";

typedef struct {
    req_t *r;
    char *query;
    char channel[FEATURE_ID_LEN + 1];
    long long limit, offset;
} search_t;

static void search_free(search_t *s)
{
    free(s->query);
    free(s);
}

static json_t *result_of(const pg_result_t *res, int i)
{
    const char *msg = pg_value(res, i, 4), *edited = pg_value(res, i, 3);
    json_t *m = msg ? json_loads(msg, 0, NULL) : NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        return NULL;
    }
    json_object_set_new(m, "text", json_string(pg_value(res, i, 2) ? pg_value(res, i, 2) : ""));
    json_object_set_new(m, "edited", json_boolean(edited && *edited == 't'));
    const char *rank = pg_value(res, i, 5), *snippet = pg_value(res, i, 6);
    return json_pack("{s:o,s:s,s:f,s:s}", "message", m, "circle", pg_value(res, i, 1) ? pg_value(res, i, 1) : "",
                     "rank", rank ? strtod(rank, NULL) : 0.0, "snippet", snippet ? snippet : "");
}

static void searched(const pg_result_t *res, void *priv)
{
    search_t *s = priv;
    if (!res) {
        req_error(s->r, E_UNAVAILABLE, "search is not available right now; try again");
        search_free(s);
        return;
    }
    int n = pg_ntuples(res);
    json_t *results = json_array();
    for (int i = 0; i < n && i < s->limit; i++) {
        json_t *one = result_of(res, i);
        if (one)
            json_array_append_new(results, one);
    }
    json_t *fields = json_pack("{s:o}", "results", results);
    if (n > s->limit && s->offset + s->limit <= SEARCH_OFFSET_MAX) {
        char cursor[24];
        snprintf(cursor, sizeof cursor, "%lld", s->offset + s->limit);
        json_object_set_new(fields, "cursor", json_string(cursor));
    }
    req_ok(s->r, fields);
    search_free(s);
}

/* The circle ids as a PostgreSQL array literal: {"a","b"} (ids are hex: nothing to escape). New string. */
static char *circles_literal(const json_t *circles)
{
    size_t n = json_array_size(circles);
    char *out = malloc(n * (FEATURE_ID_LEN + 3) + 3), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        const char *cid = json_string_value(json_array_get(circles, i));
        if (!cid || !feature_id_valid(cid))
            continue;
        p += sprintf(p, "%s\"%s\"", p > out + 1 ? "," : "", cid);
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

static void scoped(const store_reply_t *rep, void *priv)
{
    search_t *s = priv;
    size_t len = 0;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, &len) : NULL;
    json_t *o = text ? json_loadb(text, len, 0, NULL) : NULL;
    json_t *circles = json_object_get(o, "circles");
    if (!json_is_array(circles)) {
        json_decref(o);
        req_store_error(s->r, rep); /* forbidden, not_found, or Redis down */
        search_free(s);
        return;
    }
    char *lit = circles_literal(circles);
    json_decref(o);
    if (!lit) {
        req_error(s->r, E_INTERNAL, "out of memory");
        search_free(s);
        return;
    }
    char lim[24], off[24];
    snprintf(lim, sizeof lim, "%lld", s->limit + 1); /* one more: is there a next page? */
    snprintf(off, sizeof off, "%lld", s->offset);
    const char *params[] = {s->query, lit, s->channel, lim, off};
    pg_query(SEARCH_SQL, 5, params, searched, s);
    free(lit);
}

/* The cursor is the number of results already seen, as a decimal string (opaque to clients). */
static int req_cursor(req_t *r, long long *offset)
{
    const char *c = NULL;
    if (req_str(r, "cursor", 1, 8, 0, &c) < 0)
        return -1;
    if (!c)
        return 0;
    char *end;
    long long v = strtoll(c, &end, 10);
    if (*end || c[0] < '0' || c[0] > '9' || v < 0 || v > SEARCH_OFFSET_MAX) {
        req_error_ex(r, E_BAD_REQUEST, "cursor", 0, "cursor: not a cursor from an earlier answer");
        return -1;
    }
    *offset = v;
    return 0;
}

static void chat_search(req_t *r)
{
    const char *query, *circle = "", *channel = "";
    long long limit = 20, offset = 0;
    if (req_str(r, "query", 1, SEARCH_QUERY_MAX, 1, &query) < 0 || feature_req_id(r, "circle", 0, 0, &circle) < 0 ||
        feature_req_id(r, "channel", 0, 0, &channel) < 0 || req_int(r, "limit", 1, SEARCH_LIMIT_MAX, 0, &limit) < 0 ||
        req_cursor(r, &offset) < 0)
        return;
    if (!archive_enabled()) {
        req_error(r, E_UNAVAILABLE, "search needs the chat archive, which this server does not have");
        return;
    }
    search_t *s = calloc(1, sizeof *s);
    if (!s || !(s->query = strdup(query))) {
        free(s);
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    s->r = r;
    s->limit = limit;
    s->offset = offset;
    snprintf(s->channel, sizeof s->channel, "%s", channel);
    const char *args[] = {req_user(r), circle, channel};
    store_fcall("chat_search_scope", scoped, s, 0, 3, args);
}

static const handler_t handlers[] = {
    {"chat.search", chat_search, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t search_module = {
    .name = "search",
    .handlers = handlers,
};
