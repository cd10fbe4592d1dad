/* goals.c — see goals.h. Each request: goals_who (Redis: the requester's name and admin flag, the other
 * person, a booking's pair), for goal.link to media the user's circles (media_scope), then one SQL
 * statement that checks the right to act inside the query and answers a code; a change then reads the
 * mentorship back (VIEW) to answer and to tell both people.
 * Two requests need the mentorship's pair before Redis can answer: goal.link to a note (a note's number is
 * only unique within its pair) and mentorship.history (the pair's bookings). They first read the pair with
 * the right to read checked in SQL (PAIR_SQL, PEOPLE_SQL), then ask goals_pair for that pair only, so a
 * note or a booking of anyone else can never be named. */
#include "goals.h"

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

#define MS(X) "(extract(epoch from " X ") * 1000)::bigint"
#define PARTY(U) "(m.mentor = " U " OR m.mentee = " U ")"

/* The mentorship m as a JSON object: people, state, goals with their progress and links. */
#define VIEW_JSON                                                                                              \
    "json_build_object('id', m.id, 'mentor', json_build_object('id', m.mentor, 'display_name', m.mentor_name),"  \
    " 'mentee', json_build_object('id', m.mentee, 'display_name', m.mentee_name), 'state', m.state,"           \
    " 'proposed_by', m.proposed_by, 'created_at', " MS("m.created_at") ", 'closed_at', " MS("m.closed_at") ","  \
    " 'goals', (SELECT coalesce(json_agg(json_build_object('id', g.id, 'title', g.title, 'measure', g.measure," \
    "  'outcome', g.outcome, 'progress', (SELECT coalesce(json_agg(json_build_object('by', p.author,"          \
    "  'by_name', p.author_name, 'note', p.note, 'rating', p.rating, 'at', " MS("p.at") ") ORDER BY p.at, p.id)," \
    "  '[]') FROM goal_progress p WHERE p.goal_id = g.id), 'links', (SELECT coalesce(json_agg(json_build_object(" \
    "  'kind', l.kind, 'ref', l.ref, 'title', l.title, 'at', " MS("l.ref_at") ") ORDER BY l.ref_at), '[]')"     \
    "  FROM goal_links l WHERE l.goal_id = g.id)) ORDER BY g.pos), '[]') FROM goals g WHERE g.mentorship_id = m.id))::text"

/* $1 id. One row: the view, mentor, mentee. */
static const char VIEW_SQL[] = "SELECT " VIEW_JSON ", m.mentor, m.mentee FROM mentorships m WHERE m.id = $1";

/* $1 user. The user's mentorships, newest first. */
static const char LIST_SQL[] = "SELECT " VIEW_JSON " FROM mentorships m WHERE " PARTY("$1")
                               " ORDER BY m.created_at DESC, m.id LIMIT 200";

/* $1 id, $2 mentor, $3 mentee, $4 proposer, $5 mentor name, $6 mentee name, $7 goals [{id,title,measure}]. */
static const char PROPOSE_SQL[] =
    "WITH m AS (INSERT INTO mentorships (id, mentor, mentee, mentor_name, mentee_name, proposed_by)"
    "  VALUES ($1, $2, $3, $5, $6, $4) RETURNING id),"
    " g AS (INSERT INTO goals (id, mentorship_id, pos, title, measure) SELECT x.id, (SELECT id FROM m), x.ord,"
    "  x.title, coalesce(x.measure, '') FROM ROWS FROM (json_to_recordset($7::json) AS (id text, title text,"
    "  measure text)) WITH ORDINALITY AS x(id, title, measure, ord) RETURNING id)"
    " SELECT 'ok', (SELECT id FROM m), (SELECT count(*) FROM g)";

/* $1 id, $2 user, $3 the new state (open|declined): only the side that did not propose, while proposed. */
static const char DECIDE_SQL[] =
    "WITH v AS (SELECT m.id, m.state, m.proposed_by FROM mentorships m WHERE m.id = $1 AND " PARTY("$2") "),"
    " u AS (UPDATE mentorships SET state = $3, decided_at = now() WHERE id IN"
    "  (SELECT id FROM v WHERE state = 'proposed' AND proposed_by <> $2) RETURNING id)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM v) THEN 'not_found' WHEN EXISTS (SELECT 1 FROM u) THEN 'ok'"
    " WHEN (SELECT state FROM v) <> 'proposed' THEN 'conflict' ELSE 'forbidden' END, $1, (SELECT state FROM v)";

/* The goal $1 of an mentorship of user $2, with the mentorship's id, state and people. */
#define GOAL_OF_PARTY                                                                                           \
    "v AS (SELECT g.id, m.id AS mid, m.state, m.mentor, m.mentee FROM goals g JOIN mentorships m"              \
    " ON m.id = g.mentorship_id WHERE g.id = $1 AND " PARTY("$2") ")"

/* $1 goal, $2 user, $3 user's name, $4 note, $5 rating. */
static const char PROGRESS_SQL[] =
    "WITH " GOAL_OF_PARTY ", i AS (INSERT INTO goal_progress (goal_id, author, author_name, note, rating)"
    "  SELECT id, $2, $3, $4, $5::int FROM v WHERE state = 'open' RETURNING goal_id)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM v) THEN 'not_found' WHEN EXISTS (SELECT 1 FROM i) THEN 'ok'"
    " ELSE 'conflict' END, (SELECT mid FROM v), (SELECT state FROM v)";

/* $1 goal, $2 user, $3 circles, $4 kind, $5 ref, $6 and $7 the pair the ref belongs to (a booking's mentor
 * and mentee; the two people whose notes hold the note), $8 when it happened (unix ms), $9 a note's text.
 * A session or a note must be one of the two; a media item one the user may see (media_acl.h). */
static const char LINK_SQL[] =
    "WITH " GOAL_OF_PARTY ","
    " r AS (SELECT v.id, CASE $4 WHEN 'media' THEN (SELECT x.title FROM media x WHERE x.id = $5) WHEN 'note' THEN $9"
    "  ELSE 'Session' END AS title, CASE WHEN $4 = 'media' THEN (SELECT x.created_at FROM media x WHERE x.id = $5)"
    "  ELSE to_timestamp($8::bigint / 1000.0) END AS at FROM v WHERE CASE $4"
    "  WHEN 'media' THEN EXISTS (SELECT 1 FROM media m WHERE m.id = $5 AND m.state = 'ready' AND "
    MEDIA_CAN_VIEW_SQL("m", "$2", "$3") ")"
    "  ELSE (($6 = v.mentor AND $7 = v.mentee) OR ($6 = v.mentee AND $7 = v.mentor)) END),"
    " i AS (INSERT INTO goal_links (goal_id, kind, ref, title, ref_at, by_user) SELECT r.id, $4, $5, r.title, r.at, $2"
    "  FROM r WHERE (SELECT state FROM v) = 'open' ON CONFLICT DO NOTHING RETURNING goal_id)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM v) THEN 'not_found' WHEN NOT EXISTS (SELECT 1 FROM r) THEN 'no_ref'"
    " WHEN (SELECT state FROM v) <> 'open' THEN 'conflict' ELSE 'ok' END, (SELECT mid FROM v), (SELECT state FROM v)";

/* $1 id, $2 user, $3 outcomes {goal: outcome} (values checked by the caller): every goal, no other. */
static const char CLOSE_SQL[] =
    "WITH v AS (SELECT m.id, m.state FROM mentorships m WHERE m.id = $1 AND " PARTY("$2") "),"
    " o AS (SELECT key AS gid, value AS outcome FROM json_each_text($3::json)),"
    " n AS (SELECT (SELECT count(*) FROM goals WHERE mentorship_id = $1) AS goals, (SELECT count(*) FROM o) AS given,"
    "  (SELECT count(*) FROM o JOIN goals g ON g.id = o.gid AND g.mentorship_id = $1) AS matched),"
    " u AS (UPDATE mentorships SET state = 'closed', closed_at = now(), closed_by = $2 WHERE id IN"
    "  (SELECT id FROM v WHERE state = 'open') AND (SELECT goals = given AND given = matched FROM n) RETURNING id),"
    " ug AS (UPDATE goals g SET outcome = o.outcome FROM o WHERE g.id = o.gid AND g.mentorship_id IN (SELECT id FROM u))"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM v) THEN 'not_found' WHEN (SELECT state FROM v) <> 'open' THEN 'conflict'"
    " WHEN NOT EXISTS (SELECT 1 FROM u) THEN 'outcomes' ELSE 'ok' END, $1, (SELECT state FROM v)";

/* $1 goal, $2 user: the pair of the goal's mentorship, for one of the two only. */
static const char PAIR_SQL[] = "SELECT m.mentor, m.mentee FROM goals g JOIN mentorships m ON m.id = g.mentorship_id"
                               " WHERE g.id = $1 AND " PARTY("$2");

/* $1 id, $2 user, $3 '1' if an admin: the pair of a mentorship the user may read. */
static const char PEOPLE_SQL[] =
    "SELECT m.mentor, m.mentee FROM mentorships m WHERE m.id = $1 AND (" PARTY("$2") " OR $3 = '1')";

/* The pair's bookings ($4, from goals_pair: [{id, start, end, status, topic}…]). */
#define PAIR_BOOKINGS "json_to_recordset($4::json) AS s(id text, start bigint, \"end\" bigint, status text, topic text)"

/* $1 id, $2 user, $3 '1' if an admin, $4 the pair's bookings, $5 the user's circles. One row: the view and
 * every event in time order (JSON array): the mentorship's own, then the pair's bookings (at their start)
 * and the recordings of those bookings that the reader may see (media_acl.h), linked to a goal or not. */
static const char HISTORY_SQL[] =
    "SELECT " VIEW_JSON ", (SELECT coalesce(json_agg(e.o ORDER BY e.at, e.seq), '[]') FROM ("
    "  SELECT m.created_at AS at, 0 AS seq, json_build_object('kind', 'proposed', 'at', " MS("m.created_at") ","
    "   'by', m.proposed_by) AS o"
    "  UNION ALL SELECT m.decided_at, 1, json_build_object('kind', CASE m.state WHEN 'declined' THEN 'declined'"
    "   ELSE 'accepted' END, 'at', " MS("m.decided_at") ") WHERE m.decided_at IS NOT NULL"
    "  UNION ALL SELECT p.at, 2, json_build_object('kind', 'progress', 'at', " MS("p.at") ", 'goal', g.id,"
    "   'goal_title', g.title, 'by', p.author, 'by_name', p.author_name, 'note', p.note, 'rating', p.rating)"
    "   FROM goal_progress p JOIN goals g ON g.id = p.goal_id WHERE g.mentorship_id = m.id"
    "  UNION ALL SELECT l.ref_at, 3, json_build_object('kind', l.kind, 'at', " MS("l.ref_at") ", 'goal', g.id,"
    "   'goal_title', g.title, 'ref', l.ref, 'title', l.title, 'by', l.by_user)"
    "   FROM goal_links l JOIN goals g ON g.id = l.goal_id WHERE g.mentorship_id = m.id"
    "  UNION ALL SELECT m.closed_at, 4, json_build_object('kind', 'closed', 'at', " MS("m.closed_at") ","
    "   'by', m.closed_by) WHERE m.closed_at IS NOT NULL"
    "  UNION ALL SELECT to_timestamp(s.start), 5, json_build_object('kind', 'booking', 'at', s.start * 1000,"
    "   'booking', s.id, 'status', s.status, 'topic', s.topic, 'start', s.start, 'end', s.\"end\") FROM " PAIR_BOOKINGS
    "  UNION ALL SELECT x.created_at, 6, json_build_object('kind', 'recording', 'at', " MS("x.created_at") ","
    "   'media', x.id, 'title', x.title, 'duration_ms', x.duration_ms, 'session', x.session) FROM media x"
    "   WHERE x.kind = 'recording' AND x.state = 'ready' AND x.session IN (SELECT s.id FROM " PAIR_BOOKINGS ")"
    "   AND " MEDIA_CAN_VIEW_SQL("x", "$2", "$5") ") e)::text"
    " FROM mentorships m WHERE m.id = $1 AND (" PARTY("$2") " OR $3 = '1')";

enum { OP_PROPOSE, OP_ACCEPT, OP_DECLINE, OP_LIST, OP_PROGRESS, OP_LINK, OP_CLOSE, OP_HISTORY };

typedef struct {
    req_t *r;
    int op;
    const char *target;       /* mentorship or goal id; borrowed from r */
    const char *other;        /* propose: the other person; borrowed from r */
    int other_is_mentee;      /* propose: the requester is the mentor */
    const char *text;         /* progress: note; link: the session or media id, or the note's number */
    const char *kind;         /* link: "session", "media" or "note" */
    char note_no[24];         /* link: the note's number, as text */
    char *note_text;          /* link: the note's text, from goals_pair (new) */
    char *sessions;           /* history: the pair's bookings, JSON text from goals_pair (new) */
    char mentor[FEATURE_ID_LEN + 1], mentee[FEATURE_ID_LEN + 1]; /* link to a note, history: the pair */
    char rating[8];
    char *json;               /* propose: goals with ids; close: outcomes (new) */
    char *name, *other_name;  /* from goals_who (new) */
    char bmentor[FEATURE_ID_LEN + 1], bmentee[FEATURE_ID_LEN + 1], bstart[24]; /* bstart: unix ms */
    int admin;
    char id[FEATURE_ID_LEN + 1];
} greq_t;

static void greq_free(greq_t *g)
{
    if (!g)
        return;
    free(g->json);
    free(g->note_text);
    free(g->sessions);
    free(g->name);
    free(g->other_name);
    free(g);
}

static greq_t *greq_new(req_t *r, int op)
{
    if (!pg_configured()) {
        req_error(r, E_UNAVAILABLE, "mentoring goals need PostgreSQL, which this server does not have");
        return NULL;
    }
    greq_t *g = calloc(1, sizeof *g);
    if (!g) {
        req_error(r, E_INTERNAL, "out of memory");
        return NULL;
    }
    g->r = r;
    g->op = op;
    return g;
}

static void unavailable(greq_t *g)
{
    req_error(g->r, E_UNAVAILABLE, "mentoring goals are not available right now; try again");
    greq_free(g);
}

/* The mentorship read back after a change: answer {mentorship} and tell both people. */
static void viewed(const pg_result_t *res, void *priv)
{
    greq_t *g = priv;
    json_t *view = res && pg_ntuples(res) == 1 && pg_value(res, 0, 0) ? json_loads(pg_value(res, 0, 0), 0, NULL) : NULL;
    if (!view) {
        unavailable(g);
        return;
    }
    json_t *ev = json_pack("{s:s,s:O}", "type", "mentorship.updated", "mentorship", view);
    for (int k = 1; k <= 2 && ev; k++)
        if (pg_value(res, 0, k) && feature_id_valid(pg_value(res, 0, k)))
            bus_publish_user(pg_value(res, 0, k), ev);
    json_decref(ev);
    req_ok(g->r, json_pack("{s:o}", "mentorship", view));
    greq_free(g);
}

static const char *state_error(const char *state)
{
    if (state && strcmp(state, "proposed") == 0)
        return "this mentorship is not accepted yet: it is read-only until then";
    if (state && strcmp(state, "open") == 0)
        return "this mentorship is already open";
    return "this mentorship is closed (or was declined): it is read-only";
}

/* The answer of a change: a code, the mentorship id, its state (before). */
static void changed(const pg_result_t *res, void *priv)
{
    greq_t *g = priv;
    const char *code = res && pg_ntuples(res) == 1 ? pg_value(res, 0, 0) : NULL;
    if (!code) {
        unavailable(g);
        return;
    }
    const char *what = g->op == OP_PROGRESS || g->op == OP_LINK ? "no such goal" : "no such mentorship";
    if (strcmp(code, "ok") == 0) {
        const char *p[] = {pg_value(res, 0, 1)};
        pg_query(VIEW_SQL, 1, p, viewed, g);
        return;
    }
    if (strcmp(code, "not_found") == 0)
        req_error(g->r, E_NOT_FOUND, "%s", what);
    else if (strcmp(code, "forbidden") == 0)
        req_error(g->r, E_FORBIDDEN, "the other person answers a proposal, not the one who made it");
    else if (strcmp(code, "no_ref") == 0)
        req_error_ex(g->r, E_NOT_FOUND, g->kind, 0, "%s: %s", g->kind,
                     strcmp(g->kind, "session") == 0 ? "no such session between the two of you"
                     : strcmp(g->kind, "note") == 0  ? "no such note of the two of you"
                                                     : "no such media");
    else if (strcmp(code, "outcomes") == 0)
        req_error_ex(g->r, E_BAD_REQUEST, "outcomes", 0, "outcomes: give one for every goal of this mentorship, and no other");
    else
        req_error(g->r, E_CONFLICT, "%s", state_error(pg_value(res, 0, 2)));
    greq_free(g);
}

static void listed(const pg_result_t *res, void *priv)
{
    greq_t *g = priv;
    if (!res) {
        unavailable(g);
        return;
    }
    if (g->op == OP_HISTORY) {
        json_t *view = pg_ntuples(res) == 1 ? json_loads(pg_value(res, 0, 0), 0, NULL) : NULL;
        json_t *hist = pg_ntuples(res) == 1 ? json_loads(pg_value(res, 0, 1), 0, NULL) : NULL;
        if (!view || !hist) {
            json_decref(view);
            json_decref(hist);
            req_error(g->r, E_NOT_FOUND, "no such mentorship");
        } else {
            req_ok(g->r, json_pack("{s:o,s:o}", "mentorship", view, "history", hist));
        }
    } else {
        json_t *list = json_array();
        for (int i = 0; i < pg_ntuples(res); i++) {
            json_t *v = json_loads(pg_value(res, i, 0), 0, NULL);
            if (v)
                json_array_append_new(list, v);
        }
        req_ok(g->r, json_pack("{s:o}", "mentorships", list));
    }
    greq_free(g);
}

static void scoped(const char *circles, void *priv)
{
    greq_t *g = priv;
    if (!circles) {
        unavailable(g);
        return;
    }
    const char *p[] = {g->target, req_user(g->r), circles, g->kind, g->text, g->bmentor[0] ? g->bmentor : NULL,
                       g->bmentee[0] ? g->bmentee : NULL, g->bstart[0] ? g->bstart : "0", g->note_text};
    pg_query(LINK_SQL, 9, p, changed, g);
}

static void history_scoped(const char *circles, void *priv)
{
    greq_t *g = priv;
    if (!circles) {
        unavailable(g);
        return;
    }
    const char *p[] = {g->target, req_user(g->r), g->admin ? "1" : "0", g->sessions, circles};
    pg_query(HISTORY_SQL, 5, p, listed, g);
}

/* goals_pair answered for the pair in g: a link takes the note (if the pair has it), a history the
 * pair's bookings. */
static void pair_read(const store_reply_t *rep, void *priv)
{
    greq_t *g = priv;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, NULL) : NULL;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    json_t *sessions = json_object_get(o, "sessions");
    if (g->op == OP_HISTORY ? !json_is_array(sessions) : !json_object_get(o, "note")) {
        json_decref(o);
        unavailable(g);
        return;
    }
    if (g->op == OP_HISTORY) {
        g->sessions = json_dumps(sessions, JSON_COMPACT);
        json_decref(o);
        if (!g->sessions) {
            unavailable(g);
            return;
        }
        media_scope(req_user(g->r), history_scoped, g);
        return;
    }
    json_t *note = json_object_get(o, "note");
    const char *ntext = json_string_value(json_object_get(note, "text"));
    if (ntext) { /* found in this pair's notes: the pair is the ref's pair (else LINK_SQL answers no_ref) */
        snprintf(g->bmentor, sizeof g->bmentor, "%s", g->mentor);
        snprintf(g->bmentee, sizeof g->bmentee, "%s", g->mentee);
        snprintf(g->bstart, sizeof g->bstart, "%lld", (long long)json_integer_value(json_object_get(note, "at")));
        g->note_text = strdup(ntext);
    }
    json_decref(o);
    if (ntext && !g->note_text) {
        req_error(g->r, E_INTERNAL, "out of memory");
        greq_free(g);
        return;
    }
    scoped("{}", g);
}

/* PAIR_SQL or PEOPLE_SQL answered: the pair of a mentorship the user may act on (link) or read (history). */
static void paired(const pg_result_t *res, void *priv)
{
    greq_t *g = priv;
    if (!res) {
        unavailable(g);
        return;
    }
    const char *mentor = pg_ntuples(res) == 1 ? pg_value(res, 0, 0) : NULL;
    const char *mentee = pg_ntuples(res) == 1 ? pg_value(res, 0, 1) : NULL;
    if (!mentor || !mentee || !feature_id_valid(mentor) || !feature_id_valid(mentee)) {
        req_error(g->r, E_NOT_FOUND, "%s", g->op == OP_LINK ? "no such goal" : "no such mentorship");
        greq_free(g);
        return;
    }
    snprintf(g->mentor, sizeof g->mentor, "%s", mentor);
    snprintf(g->mentee, sizeof g->mentee, "%s", mentee);
    const char *args[] = {g->mentor, g->mentee, g->note_no};
    store_fcall("goals_pair", pair_read, g, 0, 3, args);
}

/* goals_who answered: the requester, the other person, the booking. */
static void who(const store_reply_t *rep, void *priv)
{
    greq_t *g = priv;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, NULL) : NULL;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    if (!o) {
        unavailable(g);
        return;
    }
    const char *name = json_string_value(json_object_get(json_object_get(o, "me"), "display_name"));
    const char *oname = json_string_value(json_object_get(json_object_get(o, "other"), "display_name"));
    json_t *b = json_object_get(o, "booking");
    const char *bm = json_string_value(json_object_get(b, "mentor")), *be = json_string_value(json_object_get(b, "mentee"));
    g->admin = json_is_true(json_object_get(o, "admin"));
    g->name = strdup(name ? name : "");
    g->other_name = strdup(oname ? oname : "");
    if (bm && be && strlen(bm) <= FEATURE_ID_LEN && strlen(be) <= FEATURE_ID_LEN) {
        snprintf(g->bmentor, sizeof g->bmentor, "%s", bm);
        snprintf(g->bmentee, sizeof g->bmentee, "%s", be);
        snprintf(g->bstart, sizeof g->bstart, "%lld", (long long)json_integer_value(json_object_get(b, "start")) * 1000);
    }
    int other_exists = json_is_object(json_object_get(o, "other"));
    json_decref(o);
    if (!g->name || !g->other_name) {
        req_error(g->r, E_INTERNAL, "out of memory");
        greq_free(g);
        return;
    }
    const char *user = req_user(g->r);
    switch (g->op) {
    case OP_PROPOSE: {
        if (!other_exists) {
            req_error_ex(g->r, E_NOT_FOUND, g->other_is_mentee ? "mentee" : "mentor", 0, "no such person");
            greq_free(g);
            return;
        }
        const char *mentor = g->other_is_mentee ? user : g->other, *mentee = g->other_is_mentee ? g->other : user;
        const char *p[] = {g->id, mentor, mentee, user, g->other_is_mentee ? g->name : g->other_name,
                           g->other_is_mentee ? g->other_name : g->name, g->json};
        pg_query(PROPOSE_SQL, 7, p, changed, g);
        break;
    }
    case OP_ACCEPT:
    case OP_DECLINE: {
        const char *p[] = {g->target, user, g->op == OP_ACCEPT ? "open" : "declined"};
        pg_query(DECIDE_SQL, 3, p, changed, g);
        break;
    }
    case OP_PROGRESS: {
        const char *p[] = {g->target, user, g->name, g->text, g->rating};
        pg_query(PROGRESS_SQL, 5, p, changed, g);
        break;
    }
    case OP_LINK:
        if (strcmp(g->kind, "note") == 0) {
            const char *p[] = {g->target, user};
            pg_query(PAIR_SQL, 2, p, paired, g);
        } else if (strcmp(g->kind, "media") == 0) {
            media_scope(user, scoped, g);
        } else {
            scoped("{}", g);
        }
        break;
    case OP_CLOSE: {
        const char *p[] = {g->target, user, g->json};
        pg_query(CLOSE_SQL, 3, p, changed, g);
        break;
    }
    case OP_LIST: {
        const char *p[] = {user};
        pg_query(LIST_SQL, 1, p, listed, g);
        break;
    }
    default: {
        const char *p[] = {g->target, user, g->admin ? "1" : "0"};
        pg_query(PEOPLE_SQL, 3, p, paired, g);
        break;
    }
    }
}

static void ask(greq_t *g, const char *other, const char *booking)
{
    const char *args[] = {req_user(g->r), other ? other : "", booking ? booking : ""};
    store_fcall("goals_who", who, g, 0, 3, args);
}

/* goals: 1–5 objects {title (1–200), measure? (0–2000)}; *out: the same with fresh ids (new text). */
static int read_goals(req_t *r, char **out)
{
    json_t *in = json_object_get(req_json(r), "goals");
    if (!json_is_array(in) || json_array_size(in) < 1 || json_array_size(in) > GOALS_MAX) {
        req_error_ex(r, E_BAD_REQUEST, "goals", 0, "goals: an array of 1 to %d goals", GOALS_MAX);
        return -1;
    }
    json_t *list = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v)
    {
        const char *title = json_string_value(json_object_get(v, "title"));
        json_t *m = json_object_get(v, "measure");
        char id[FEATURE_ID_LEN + 1];
        size_t tlen = title ? strlen(title) : 0;
        if (!json_is_object(v) || tlen < 1 || tlen > GOALS_TITLE_MAX || (m && !json_is_string(m)) ||
            (m && strlen(json_string_value(m)) > GOALS_TEXT_MAX)) {
            json_decref(list);
            req_error_ex(r, E_BAD_REQUEST, "goals", 0,
                         "goals[%zu]: {title (1–%d characters), measure? (up to %d)}", i, GOALS_TITLE_MAX, GOALS_TEXT_MAX);
            return -1;
        }
        if (feature_id_new(id) < 0) {
            json_decref(list);
            req_error(r, E_INTERNAL, "no random source");
            return -1;
        }
        json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "id", id, "title", title, "measure",
                                              m ? json_string_value(m) : ""));
    }
    *out = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    if (!*out) {
        req_error(r, E_INTERNAL, "out of memory");
        return -1;
    }
    return 0;
}

static void propose(req_t *r)
{
    const char *mentor = NULL, *mentee = NULL;
    char *goals = NULL;
    if (feature_req_id(r, "mentor", 0, 0, &mentor) < 0 || feature_req_id(r, "mentee", 0, 0, &mentee) < 0)
        return;
    if (!mentor == !mentee) {
        req_error_ex(r, E_BAD_REQUEST, "mentee", 0, "mentee or mentor: the other person (one of the two)");
        return;
    }
    const char *other = mentor ? mentor : mentee;
    if (strcmp(other, req_user(r)) == 0) {
        req_error_ex(r, E_BAD_REQUEST, mentor ? "mentor" : "mentee", 0, "the other person, not yourself");
        return;
    }
    if (read_goals(r, &goals) < 0)
        return;
    greq_t *g = greq_new(r, OP_PROPOSE);
    if (!g) {
        free(goals);
        return;
    }
    g->json = goals;
    g->other = other;
    g->other_is_mentee = mentee != NULL;
    if (feature_id_new(g->id) < 0) {
        req_error(r, E_INTERNAL, "no random source");
        greq_free(g);
        return;
    }
    ask(g, other, NULL);
}

static void by_id(req_t *r, int op, const char *field)
{
    const char *id;
    if (feature_req_id(r, field, 0, 1, &id) < 0)
        return;
    greq_t *g = greq_new(r, op);
    if (!g)
        return;
    g->target = id;
    ask(g, NULL, NULL);
}

static void ms_accept(req_t *r) { by_id(r, OP_ACCEPT, "mentorship"); }
static void decline(req_t *r) { by_id(r, OP_DECLINE, "mentorship"); }
static void history(req_t *r) { by_id(r, OP_HISTORY, "mentorship"); }

static void list(req_t *r)
{
    greq_t *g = greq_new(r, OP_LIST);
    if (g)
        ask(g, NULL, NULL);
}

static void progress(req_t *r)
{
    const char *goal, *note;
    long long rating;
    if (feature_req_id(r, "goal", 0, 1, &goal) < 0 || req_str(r, "note", 1, GOALS_TEXT_MAX, 1, &note) < 0 ||
        req_int(r, "rating", 1, 5, 1, &rating) < 0)
        return;
    greq_t *g = greq_new(r, OP_PROGRESS);
    if (!g)
        return;
    g->target = goal;
    g->text = note;
    snprintf(g->rating, sizeof g->rating, "%lld", rating);
    ask(g, NULL, NULL);
}

static void link_(req_t *r)
{
    const char *goal, *session = NULL, *media = NULL;
    long long note = 0;
    if (feature_req_id(r, "goal", 0, 1, &goal) < 0 || feature_req_id(r, "session", 0, 0, &session) < 0 ||
        feature_req_id(r, "media", 0, 0, &media) < 0 || req_int(r, "note", 1, GOALS_NOTE_MAX, 0, &note) < 0)
        return;
    if ((session != NULL) + (media != NULL) + (note != 0) != 1) {
        req_error_ex(r, E_BAD_REQUEST, "session", 0, "session, media or note: what to link (one of the three)");
        return;
    }
    greq_t *g = greq_new(r, OP_LINK);
    if (!g)
        return;
    g->target = goal;
    if (note) {
        snprintf(g->note_no, sizeof g->note_no, "%lld", note);
        g->kind = "note";
        g->text = g->note_no;
    } else {
        g->kind = session ? "session" : "media";
        g->text = session ? session : media;
    }
    ask(g, NULL, session);
}

static void close_(req_t *r)
{
    static const char *const outcomes[] = {"met", "partly", "not_met", NULL};
    const char *id;
    if (feature_req_id(r, "mentorship", 0, 1, &id) < 0)
        return;
    json_t *o = json_object_get(req_json(r), "outcomes");
    const char *key;
    json_t *v;
    int bad = !json_is_object(o) || json_object_size(o) < 1 || json_object_size(o) > GOALS_MAX;
    json_object_foreach(bad ? NULL : o, key, v)
    {
        int known = 0;
        for (int i = 0; outcomes[i]; i++)
            known |= json_is_string(v) && strcmp(json_string_value(v), outcomes[i]) == 0;
        bad |= !feature_id_valid(key) || !known;
    }
    if (bad) {
        req_error_ex(r, E_BAD_REQUEST, "outcomes", 0, "outcomes: {goal id: \"met\"|\"partly\"|\"not_met\"} for every goal");
        return;
    }
    greq_t *g = greq_new(r, OP_CLOSE);
    if (!g)
        return;
    g->target = id;
    g->json = json_dumps(o, JSON_COMPACT);
    if (!g->json) {
        req_error(r, E_INTERNAL, "out of memory");
        greq_free(g);
        return;
    }
    ask(g, NULL, NULL);
}

static const handler_t handlers[] = {
    {"mentorship.propose", propose, H_RL_MSG},
    {"mentorship.accept", ms_accept, H_RL_MSG},
    {"mentorship.decline", decline, H_RL_MSG},
    {"mentorship.list", list, H_RL_READ},
    {"mentorship.close", close_, H_RL_MSG},
    {"mentorship.history", history, H_RL_READ},
    {"goal.progress", progress, H_RL_MSG},
    {"goal.link", link_, H_RL_MSG},
    {NULL, NULL, 0},
};

const module_t goals_module = {
    .name = "goals",
    .handlers = handlers,
};
