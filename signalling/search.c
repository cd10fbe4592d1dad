/* search.c — see search.h. chat.search: one Redis call (the scope), then one SQL statement.
 * circle.set_language: one Redis call (the archiver reindexes later). */
#include "search.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "config.h"
#include "feature.h"
#include "msg.h"
#include "pg.h"
#include "store.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* PostgreSQL 15's built-in text-search configurations: the only names ever spliced into SQL. */
static const char *const LANGUAGES[] = {
    "simple",    "arabic",    "armenian",   "basque",     "catalan",  "danish",  "dutch",   "english",
    "finnish",   "french",    "german",     "greek",      "hindi",    "hungarian", "indonesian", "irish",
    "italian",   "lithuanian", "nepali",    "norwegian",  "portuguese", "romanian", "russian", "serbian",
    "spanish",   "swedish",   "tamil",      "turkish",    "yiddish",  NULL,
};

int search_language_valid(const char *lang)
{
    for (size_t i = 0; lang && LANGUAGES[i]; i++)
        if (strcmp(lang, LANGUAGES[i]) == 0)
            return 1;
    return 0;
}

/* The statement is built from one branch per language among the circles searched (the language is part of
 * the tsquery, so each branch can use the indexes with a constant query). Parameters: $1 the query without
 * its prefix terms (web search syntax), $2 the prefix terms as a tsquery text ('word':* & …), $3 channel
 * ("" = any), $4 author ("" = any), $5 after and $6 before (ms, exclusive), $7 limit + 1, $8 offset, $9 the
 * prefix words (text[]), $10… the circles of each branch (text[] literals). Each branch keeps the newest
 * SEARCH_CANDIDATES matches, then those are ranked. How it finds them is the planner's choice
 * (messages_recent walked back from now for a frequent word, the GIN index for a rare one), except in two
 * cases where PostgreSQL's estimate is known to mislead it:
 * - a prefix that no frequent lexeme starts with: PostgreSQL then guesses a fixed 2% of the rows, and walking
 *   back in search of a prefix nobody wrote would read the whole table; such a query takes the GIN index
 *   (`ms + 0`: no index order to walk), which costs what its few matches cost. A prefix term matches the
 *   stemmed form (photosynthesis* → photosynthesi:*) or the word as typed (enzy*: English stems it to enzi).
 * - a phrase of frequent words (PHRASE_WALK_SQL; "p-value" is a phrase too: p-valu <-> p <-> valu).
 *   PostgreSQL estimates a phrase as if its words were independent and anywhere in the text: too rare when
 *   they come together ("p-value hypothesis": four lexemes, estimated 0.3% of the rows, really 5%), so it
 *   takes the GIN index, which cannot see positions and has every row holding all the words re-read from
 *   the heap (50,000 rows, 300–500 ms at 1M rows); or too frequent when the words are not adjacent, so it
 *   walks messages_recent far longer than it expected. Such a phrase is looked for by walking back at most
 *   search-phrase-scan rows of the scope newest first (only the stream id and "does it match" leave the
 *   walk; the matching rows are read again by primary key), which finds the newest SEARCH_CANDIDATES
 *   matches of a phrase in at least 1 row in 250 (at the default 50,000) in tens of milliseconds. If the
 *   walk ends short of them and the scope has more rows, the GIN index finds them instead (its cost is
 *   that of the rows holding all the words, what the phrase costs anyway).
 * Snippets mark matches with « and » (the client escapes the text, then styles the marks). */
#define PREFIX_SQL "(to_tsquery('%1$s'::regconfig, $2) || to_tsquery('simple'::regconfig, $2))"
#define QUERY_SQL                                                                                               \
    "(SELECT CASE WHEN $2 = '' THEN websearch_to_tsquery('%1$s'::regconfig, $1)"                               \
    "  WHEN $1 = '' THEN " PREFIX_SQL                                                                          \
    "  ELSE websearch_to_tsquery('%1$s'::regconfig, $1) && " PREFIX_SQL " END AS q) q"
/* The rows a branch may find (%2$d: the parameter with its circles). */
#define SCOPE_SQL                                                                                               \
    " m.circle = ANY($%2$d::text[]) AND ($3 = '' OR m.channel = $3)"                                           \
    " AND ($4 = '' OR m.author = $4) AND m.ms > $5::bigint AND m.ms < $6::bigint"
#define COLUMNS_SQL "m.channel, m.circle, m.ms, m.seq, m.body, m.edited, m.msg, m.tsv, m.lang, q.q"
#define FREQUENT_PREFIXES_SQL                                                                                   \
    "COALESCE((SELECT bool_and(EXISTS (SELECT 1 FROM pg_stats s, unnest(s.most_common_elems::text::text[]) e"  \
    " WHERE s.schemaname = current_schema() AND s.tablename = 'messages' AND s.attname = 'tsv'"                \
    " AND e LIKE lower(w) || '%%')) FROM unnest($9::text[]) w), true)"
/* True if the query holds a phrase (an operator <N>) and the rows holding all of its lexemes are estimated at
 * 1 in %3$lld / SEARCH_CANDIDATES or more: the product of each lexeme's frequency in pg_stats (0 for a lexeme
 * not among the most common: then false), the parts of a compound ("p" and "valu" of "p-valu") left out as
 * they always come with it. The lexemes are read from the tsquery's text by the simple parser, distances
 * (<2>) removed first. */
#define PHRASE_WALK_SQL                                                                                         \
    "(SELECT strpos(q.q::text, ' <') > 0 AND COALESCE((SELECT exp(sum(ln(GREATEST(COALESCE(f.freq, 0), 1e-9))))" \
    " FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig,"                                          \
    "  regexp_replace(q.q::text, '<[0-9]+>', ' ', 'g')))) l(lex)"                                             \
    " LEFT JOIN LATERAL (SELECT s.most_common_elem_freqs[array_position(s.most_common_elems::text::text[], l.lex)]" \
    "  AS freq FROM pg_stats s WHERE s.schemaname = current_schema() AND s.tablename = 'messages'"            \
    "  AND s.attname = 'tsv') f ON true"                                                                       \
    " WHERE NOT EXISTS (SELECT 1 FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig,"              \
    "  regexp_replace(q.q::text, '<[0-9]+>', ' ', 'g')))) c(lex)"                                             \
    "  WHERE strpos(c.lex, '-') > 0 AND l.lex = ANY(string_to_array(c.lex, '-')))), 0) * %3$lld >= "          \
    STR(SEARCH_CANDIDATES) " FROM " QUERY_SQL ")"
#define BRANCH_HEAD_SQL "(SELECT " COLUMNS_SQL " FROM messages m, " QUERY_SQL " WHERE m.tsv @@ q.q AND" SCOPE_SQL
/* Without prefix terms, a query that may hold a phrase (may_be_phrase): the walk for a phrase of frequent words
 * (PHRASE_WALK_SQL), else one branch as the planner sees fit, which is all a query of plain words gets
 * (PLAIN_BRANCH_SQL: a plan that costs less to make). $9, unused there, is named for its type: PostgreSQL
 * refuses a parameter it cannot type.
 * The walk stops at its SEARCH_CANDIDATES-th match: only when it ends short of them is the scope counted
 * (`walked`: are there %3$lld rows?), and if it goes on beyond the walk, the GIN branch answers. (Numbering
 * the walked rows instead would save that second walk but costs half as much again on every walk.) */
static const char WORDS_BRANCH_SQL[] =
    "(WITH gate AS (SELECT " PHRASE_WALK_SQL " AS walk),"
    " hits AS (SELECT w.channel, w.ms, w.seq FROM (SELECT m.channel, m.ms, m.seq, m.tsv @@ q.q AS hit"
    "  FROM messages m, " QUERY_SQL " WHERE" SCOPE_SQL " ORDER BY m.ms DESC, m.seq DESC LIMIT %3$lld) w"
    "  WHERE w.hit ORDER BY w.ms DESC, w.seq DESC LIMIT " STR(SEARCH_CANDIDATES) "),"
    " found AS (SELECT count(*) AS hits FROM hits),"
    " walked AS (SELECT count(*) = %3$lld AS whole FROM (SELECT 1 FROM messages m WHERE" SCOPE_SQL
    "  ORDER BY m.ms DESC, m.seq DESC LIMIT %3$lld) x)"
    " SELECT " COLUMNS_SQL " FROM hits h JOIN messages m ON m.channel = h.channel AND m.ms = h.ms AND m.seq = h.seq,"
    " " QUERY_SQL " WHERE (SELECT walk FROM gate) AND CASE WHEN (SELECT hits FROM found) = " STR(SEARCH_CANDIDATES)
    " THEN true ELSE NOT (SELECT whole FROM walked) END"
    " UNION ALL " BRANCH_HEAD_SQL " AND CASE WHEN (SELECT walk FROM gate) THEN (SELECT hits FROM found) < "
    STR(SEARCH_CANDIDATES) " AND (SELECT whole FROM walked) ELSE false END"
    " ORDER BY m.ms + 0 DESC, m.seq DESC LIMIT " STR(SEARCH_CANDIDATES) ")"
    " UNION ALL " BRANCH_HEAD_SQL " AND NOT (SELECT walk FROM gate) AND $9::text[] IS NOT NULL"
    " ORDER BY m.ms DESC, m.seq DESC LIMIT " STR(SEARCH_CANDIDATES) "))";
static const char PLAIN_BRANCH_SQL[] =
    BRANCH_HEAD_SQL " AND $9::text[] IS NOT NULL ORDER BY m.ms DESC, m.seq DESC LIMIT " STR(SEARCH_CANDIDATES) ")";
static const char PREFIX_BRANCH_SQL[] =
    BRANCH_HEAD_SQL " AND " FREQUENT_PREFIXES_SQL
    " ORDER BY m.ms DESC, m.seq DESC LIMIT " STR(SEARCH_CANDIDATES) ") UNION ALL "
    BRANCH_HEAD_SQL " AND NOT " FREQUENT_PREFIXES_SQL
    " ORDER BY m.ms + 0 DESC, m.seq DESC LIMIT " STR(SEARCH_CANDIDATES) ")";
static const char OUTER_HEAD_SQL[] =
    "SELECT h.channel, h.circle, h.body, h.edited, h.msg, ts_rank_cd(h.tsv, h.q) AS rank,"
    " ts_headline(h.lang, h.body, h.q, 'StartSel=«, StopSel=», MaxWords=30, MinWords=8, MaxFragments=2')"
    " FROM (";
static const char OUTER_TAIL_SQL[] = ") h ORDER BY rank DESC, h.ms DESC, h.seq DESC LIMIT $7::int OFFSET $8::int";
#define FIXED_PARAMS 9

typedef struct {
    req_t *r;
    char *words;  /* the query less its prefix terms */
    char *prefix; /* the prefix terms as tsquery text, "" if none */
    char *words_of_prefix; /* the prefix words as a text[] literal: {"a","b"} */
    char channel[FEATURE_ID_LEN + 1], author[FEATURE_ID_LEN + 1];
    long long limit, offset, after, before;
} search_t;

static void search_free(search_t *s)
{
    free(s->words);
    free(s->prefix);
    free(s->words_of_prefix);
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

/* 1 if websearch_to_tsquery might make a phrase of words: anything but ASCII letters, digits and blanks (a
 * quote, a hyphen as in p-value, an apostrophe, a letter outside ASCII, …). Plain words are only ANDed. */
static int may_be_phrase(const char *words)
{
    for (const unsigned char *c = (const unsigned char *)words; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == ' ' ||
              *c == '\t' || *c == '\n' || *c == '\r'))
            return 1;
    return 0;
}

/* Sends the search over circles (with their languages, from chat_search_scope). 0, or -1 out of memory. */
static int send_search(search_t *s, const json_t *circles, const json_t *langs)
{
    enum { NLANG = sizeof LANGUAGES / sizeof *LANGUAGES };
    const char *used[NLANG];
    char *lits[NLANG] = {0};
    size_t nused = 0;
    /* each circle's language; one not from circle.set_language is searched as the default */
    json_t *eff = json_array();
    for (size_t i = 0; i < json_array_size(circles); i++) {
        const char *l = json_string_value(json_array_get(langs, i));
        json_array_append_new(eff, json_string(search_language_valid(l) ? l : "english"));
    }
    for (size_t i = 0; i < json_array_size(eff); i++) {
        const char *l = json_string_value(json_array_get(eff, i));
        size_t k = 0;
        while (k < nused && strcmp(used[k], l) != 0)
            k++;
        if (k == nused && l)
            used[nused++] = l;
    }
    if (nused == 0)
        used[nused++] = "english"; /* no circle: the statement still runs (and finds nothing) */
    const char *branch = *s->prefix ? PREFIX_BRANCH_SQL : may_be_phrase(s->words) ? WORDS_BRANCH_SQL : PLAIN_BRANCH_SQL;
    long long scan = config_get()->search_phrase_scan;
    /* room for each branch with its splices: the language, the parameter number and scan, a few times each */
    size_t cap = sizeof OUTER_HEAD_SQL + sizeof OUTER_TAIL_SQL +
                 nused * ((sizeof WORDS_BRANCH_SQL > sizeof PREFIX_BRANCH_SQL ? sizeof WORDS_BRANCH_SQL
                                                                               : sizeof PREFIX_BRANCH_SQL) + 1024);
    char *sql = malloc(cap), *p = sql;
    const char *params[FIXED_PARAMS + NLANG];
    int rc = -1;
    if (!sql)
        goto out;
    p += sprintf(p, "%s", OUTER_HEAD_SQL);
    for (size_t k = 0; k < nused; k++) {
        if (!(lits[k] = feature_ids_pg_array(circles, eff, used[k])))
            goto out;
        if (k > 0)
            p += sprintf(p, " UNION ALL ");
        p += sprintf(p, branch, used[k], (int)(FIXED_PARAMS + 1 + k), scan);
    }
    p += sprintf(p, "%s", OUTER_TAIL_SQL);
    char lim[24], off[24], after[24], before[24];
    snprintf(lim, sizeof lim, "%lld", s->limit + 1); /* one more: is there a next page? */
    snprintf(off, sizeof off, "%lld", s->offset);
    snprintf(after, sizeof after, "%lld", s->after);
    snprintf(before, sizeof before, "%lld", s->before);
    params[0] = s->words;
    params[1] = s->prefix;
    params[2] = s->channel;
    params[3] = s->author;
    params[4] = after;
    params[5] = before;
    params[6] = lim;
    params[7] = off;
    params[8] = s->words_of_prefix;
    for (size_t k = 0; k < nused; k++)
        params[FIXED_PARAMS + k] = lits[k];
    pg_query(sql, (int)(FIXED_PARAMS + nused), params, searched, s);
    rc = 0;
out:
    for (size_t k = 0; k < nused; k++)
        free(lits[k]);
    free(sql);
    json_decref(eff);
    return rc;
}

static void scoped(const store_reply_t *rep, void *priv)
{
    search_t *s = priv;
    size_t len = 0;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, &len) : NULL;
    json_t *o = text ? json_loadb(text, len, 0, NULL) : NULL;
    json_t *circles = json_object_get(o, "circles"), *langs = json_object_get(o, "langs");
    if (!json_is_array(circles) || !json_is_array(langs)) {
        json_decref(o);
        req_store_error(s->r, rep); /* forbidden, not_found, or Redis down */
        search_free(s);
        return;
    }
    int rc = send_search(s, circles, langs);
    json_decref(o);
    if (rc < 0) {
        req_error(s->r, E_INTERNAL, "out of memory");
        search_free(s);
    }
}

/* ---- the query: prefix terms apart ---- */

/* 1 if the bytes [w, w+n) make a word that can be a prefix: letters and digits (any non-ASCII byte counts as
 * a letter: UTF-8), nothing PostgreSQL's tsquery syntax would read as an operator or a quote. */
static int prefix_word(const char *w, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        if (!(c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return 0;
    }
    return 1;
}

/* Splits query into the words for websearch_to_tsquery (*words) and the prefix terms — a word ending in
 * '*' outside a quoted phrase, e.g. photosynth* — as tsquery text ('photosynth':* & …) (*prefix) and as a
 * text[] literal ({"photosynth",…}) (*array). Returns 0 (three new strings), -1 out of memory, -2 too many
 * prefix terms. */
static int split_query(const char *query, char **words, char **prefix, char **array)
{
    size_t len = strlen(query);
    char *w = malloc(len + 1), *pf = malloc(len * 2 + SEARCH_PREFIX_MAX * 8 + 1);
    char *ar = malloc(len + SEARCH_PREFIX_MAX * 4 + 3);
    size_t wn = 0, pn = 0, an = 0;
    int quoted = 0, nprefix = 0;
    if (!w || !pf || !ar) {
        free(w);
        free(pf);
        free(ar);
        return -1;
    }
    ar[an++] = '{';
    for (size_t i = 0; i < len;) {
        if (query[i] == ' ' || query[i] == '\t' || query[i] == '\n' || query[i] == '\r') {
            w[wn++] = query[i++];
            continue;
        }
        size_t j = i;
        while (j < len && query[j] != ' ' && query[j] != '\t' && query[j] != '\n' && query[j] != '\r')
            j++;
        size_t stars = 0;
        while (stars < j - i && query[j - 1 - stars] == '*')
            stars++;
        if (!quoted && stars > 0 && prefix_word(query + i, j - i - stars)) {
            if (++nprefix > SEARCH_PREFIX_MAX) {
                free(w);
                free(pf);
                free(ar);
                return -2;
            }
            pn += (size_t)sprintf(pf + pn, "%s'%.*s':*", pn ? " & " : "", (int)(j - i - stars), query + i);
            an += (size_t)sprintf(ar + an, "%s\"%.*s\"", an > 1 ? "," : "", (int)(j - i - stars), query + i);
        } else {
            for (size_t k = i; k < j; k++) {
                if (query[k] == '"')
                    quoted = !quoted;
                w[wn++] = query[k];
            }
        }
        i = j;
    }
    w[wn] = '\0';
    pf[pn] = '\0';
    ar[an++] = '}';
    ar[an] = '\0';
    /* only blanks left: the statement takes "" as "no words" */
    size_t b = 0;
    while (b < wn && (w[b] == ' ' || w[b] == '\t' || w[b] == '\n' || w[b] == '\r'))
        b++;
    if (b == wn)
        w[0] = '\0';
    *words = w;
    *prefix = pf;
    *array = ar;
    return 0;
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

#define TS_MAX 9007199254740991LL /* 2^53 - 1: exact in a JSON number */

static void chat_search(req_t *r)
{
    const char *query, *circle = "", *channel = "", *author = "";
    long long limit = 20, offset = 0, after = 0, before = TS_MAX;
    if (req_str(r, "query", 1, SEARCH_QUERY_MAX, 1, &query) < 0 || feature_req_id(r, "circle", 0, 0, &circle) < 0 ||
        feature_req_id(r, "channel", 0, 0, &channel) < 0 || feature_req_id(r, "author", 0, 0, &author) < 0 ||
        req_int(r, "after", 0, TS_MAX, 0, &after) < 0 || req_int(r, "before", 0, TS_MAX, 0, &before) < 0 ||
        req_int(r, "limit", 1, SEARCH_LIMIT_MAX, 0, &limit) < 0 || req_cursor(r, &offset) < 0)
        return;
    if (after >= before) {
        req_error_ex(r, E_BAD_REQUEST, "before", 0, "before: must be later than after");
        return;
    }
    if (!archive_enabled()) {
        req_error(r, E_UNAVAILABLE, "search needs the chat archive, which this server does not have");
        return;
    }
    search_t *s = calloc(1, sizeof *s);
    int rc = s ? split_query(query, &s->words, &s->prefix, &s->words_of_prefix) : -1;
    if (rc < 0) {
        free(s);
        if (rc == -2)
            req_error_ex(r, E_BAD_REQUEST, "query", 0, "query: at most %d prefix terms (word*)", SEARCH_PREFIX_MAX);
        else
            req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    s->r = r;
    s->limit = limit;
    s->offset = offset;
    s->after = after;
    s->before = before;
    snprintf(s->channel, sizeof s->channel, "%s", channel);
    snprintf(s->author, sizeof s->author, "%s", author);
    const char *args[] = {req_user(r), circle, channel};
    store_fcall("chat_search_scope", scoped, s, 0, 3, args);
}

/* ---- circle.set_language ---- */

static void language_set(const store_reply_t *rep, void *priv)
{
    req_t *r = priv;
    size_t len = 0;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, &len) : NULL;
    json_t *o = text ? json_loadb(text, len, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        req_store_error(r, rep); /* forbidden, not_found, or Redis down */
        return;
    }
    req_ok(r, o);
}

static void circle_set_language(req_t *r)
{
    const char *circle, *language;
    if (feature_req_id(r, "circle", 0, 1, &circle) < 0 || feature_req_enum(r, "language", LANGUAGES, 1, &language) < 0)
        return;
    const char *args[] = {req_user(r), circle, language};
    store_fcall("circle_set_language", language_set, r, 0, 3, args);
}

static const handler_t handlers[] = {
    {"chat.search", chat_search, H_RL_READ},
    {"circle.set_language", circle_set_language, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t search_module = {
    .name = "search",
    .handlers = handlers,
};
