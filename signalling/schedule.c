/* schedule.c — schedule.* handlers, reminders, session.join and the .ics export (see schedule.h). */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "config.h"
#include "conn.h"
#include "feature.h"
#include "ics.h"
#include "log.h"
#include "rooms.h"
#include "slots.h"
#include "ws.h"

#define SLOTS_MAX 500                 /* slots in one schedule.slots answer */
#define SLOTS_RANGE_MAX (31 * 86400)  /* widest from..to of one schedule.slots */
#define JOIN_OPENS_BEFORE 300         /* session room opens 5 minutes before the start … */
#define JOIN_CLOSES_AFTER 900         /* … and closes 15 minutes after the end */

/* ---------------- helpers ---------------- */

/* A key name for the library functions' KEYS: prefix, an id, suffix (ARCHITECTURE.md, "Redis keys"). */
#define KEY_MAX 80
static const char *key(char out[KEY_MAX], const char *prefix, const char *id, const char *suffix)
{
    snprintf(out, KEY_MAX, "%s%s%s", prefix, id, suffix);
    return out;
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* The configured reminder offsets as decimal strings in buf, pointed to by args[first…]; returns the
 * number of args in total. */
typedef struct {
    char text[CONFIG_MAX_REMINDERS][24];
} offsets_t;

static int push_offsets(const char **args, int first, offsets_t *o)
{
    long long secs[CONFIG_MAX_REMINDERS];
    int n = config_reminder_offsets(config_get()->reminder_offsets, secs);
    for (int i = 0; i < n; i++) {
        snprintf(o->text[i], sizeof o->text[i], "%lld", secs[i]);
        args[first + i] = o->text[i];
    }
    return first + (n > 0 ? n : 0);
}

/* The rules stored as text (len bytes), or -1 if absent or unreadable (then r is answered). */
static int rules_from_text(req_t *r, const char *text, size_t len, slots_rules_t *rules)
{
    if (len == 0) {
        req_error(r, E_NOT_FOUND, "this mentor has not published availability");
        return -1;
    }
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    const char *field;
    char err[160];
    int rc = o ? slots_rules_parse(o, rules, &field, err, sizeof err) : -1;
    json_decref(o);
    if (rc < 0) {
        log_error("schedule: stored availability is unreadable");
        req_error(r, E_INTERNAL, "internal error");
    }
    return rc;
}

/* Answers a slot that the rules refuse; returns -1 if it did (r answered), 0 if the slot is fine. */
static int refuse_slot(req_t *r, const slots_rules_t *rules, int64_t start)
{
    switch (slots_check(rules, start, now_s())) {
    case SLOTS_OK: return 0;
    case SLOTS_TOO_SOON:
        req_error_ex(r, E_CONFLICT, "start", 0, "too soon: book at least %d minutes ahead", rules->notice_min);
        return -1;
    case SLOTS_TOO_FAR:
        req_error_ex(r, E_CONFLICT, "start", 0, "too far ahead: book at most %d days ahead", rules->ahead_days);
        return -1;
    default:
        req_error_ex(r, E_BAD_REQUEST, "start", 0, "start: not a slot of this mentor's availability");
        return -1;
    }
}

/* ---------------- availability ---------------- */

static void availability_set(req_t *r)
{
    slots_rules_t rules;
    const char *field = NULL;
    char err[160];
    if (slots_rules_parse(req_json(r), &rules, &field, err, sizeof err) < 0) {
        req_error_ex(r, E_BAD_REQUEST, field, 0, "%s", err);
        return;
    }
    if (!accounts_tz_valid(rules.tz)) {
        req_error_ex(r, E_BAD_REQUEST, "tz", 0, "tz: '%s' is not a known IANA time zone", rules.tz);
        return;
    }
    json_t *j = slots_rules_json(&rules);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    char ak[KEY_MAX];
    const char *args[] = {key(ak, "sched:avail:", req_user(r), ""), req_user(r), text};
    feature_eval_answer(r, "schedule_availability_set", 1, 2, args);
    free(text);
}

static void availability_get(req_t *r)
{
    const char *mentor = req_user(r);
    if (feature_req_id(r, "mentor", 0, 0, &mentor) < 0)
        return;
    char uk[KEY_MAX], ak[KEY_MAX];
    const char *args[] = {key(uk, "user:", mentor, ""), key(ak, "sched:avail:", mentor, ""), mentor};
    feature_eval_answer(r, "schedule_availability_get", 2, 1, args);
}

/* ---------------- slots ---------------- */

/* A schedule.slots request waiting for the mentor's rules and bookings. */
typedef struct {
    req_t *r;
    char mentor[FEATURE_ID_LEN + 1];
    int64_t from, to;
} slots_req_t;

/* The slots of rules in [q->from, q->to) minus the bookings in rep (flat: id, start, …) as an ok answer. */
static void answer_slots(slots_req_t *q, const slots_rules_t *rules, const store_reply_t *rep)
{
    size_t nb = (store_len(rep) - 1) / 2;
    int64_t *booked = calloc(nb + 1, sizeof *booked), *out = calloc(SLOTS_MAX, sizeof *out);
    if (!booked || !out) {
        free(booked);
        free(out);
        req_error(q->r, E_INTERNAL, "out of memory");
        return;
    }
    for (size_t i = 0; i < nb; i++) {
        const char *s = store_str(store_elem(rep, 2 + 2 * i), NULL);
        booked[i] = s ? strtoll(s, NULL, 10) : 0;
    }
    size_t n = slots_list(rules, q->from, q->to, now_s(), booked, nb, out, SLOTS_MAX);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I,s:I}", "start", (json_int_t)out[i], "end",
                                             (json_int_t)(out[i] + rules->slot_min * 60)));
    free(booked);
    free(out);
    req_ok(q->r, json_pack("{s:s,s:o,s:s,s:i}", "mentor", q->mentor, "slots", arr, "tz", rules->tz,
                           "slot_minutes", rules->slot_min));
}

static void slots_loaded(const store_reply_t *rep, void *priv)
{
    slots_req_t *q = priv;
    slots_rules_t rules;
    if (!rep || store_type(rep) != STORE_ARR || store_len(rep) < 1) {
        req_store_error(q->r, rep);
    } else {
        size_t len = 0;
        const char *text = store_str(store_elem(rep, 0), &len);
        if (rules_from_text(q->r, text, text ? len : 0, &rules) == 0)
            answer_slots(q, &rules, rep);
    }
    free(q);
}

static void schedule_slots(req_t *r)
{
    const char *mentor;
    long long now = now_s(), from = now, to = 0;
    if (feature_req_id(r, "mentor", 0, 1, &mentor) < 0 ||
        req_int(r, "from", 0, 32503680000LL, 0, &from) < 0 || req_int(r, "to", 0, 32503680000LL, 0, &to) < 0)
        return;
    if (!to)
        to = from + 14 * 86400;
    if (to <= from || to - from > SLOTS_RANGE_MAX) {
        req_error_ex(r, E_BAD_REQUEST, "to", 0, "to: must be after from, at most 31 days later");
        return;
    }
    slots_req_t *q = calloc(1, sizeof *q);
    if (!q) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    q->r = r;
    strcpy(q->mentor, mentor);
    q->from = from;
    q->to = to;
    char f[24], t[24];
    /* bookings up to a day around the range can block its edges (slot + buffer is under a day) */
    snprintf(f, sizeof f, "%lld", from - 86400);
    snprintf(t, sizeof t, "%lld", to + 86400);
    const char *args[] = {mentor, f, t};
    store_fcall("schedule_load", slots_loaded, q, 0, 3, args);
}

/* ---------------- book, reschedule ---------------- */

/* A booking or rescheduling waiting for the mentor's rules. Strings are borrowed from the request or
 * from the answer of the first step (copied into bid/mentor). */
typedef struct {
    req_t *r;
    char bid[FEATURE_ID_LEN + 1];
    char mentor[FEATURE_ID_LEN + 1];
    int64_t start;
    const char *topic; /* book only; borrowed from r */
    int reschedule;
} book_t;

static void book_rules(const store_reply_t *rep, void *priv)
{
    book_t *b = priv;
    req_t *r = b->r;
    slots_rules_t rules;
    if (!rep || (store_type(rep) != STORE_STR && store_type(rep) != STORE_NIL)) {
        req_store_error(r, rep);
        goto out;
    }
    size_t len = 0;
    const char *text = store_type(rep) == STORE_STR ? store_str(rep, &len) : NULL;
    if (rules_from_text(r, text, text ? len : 0, &rules) < 0 || refuse_slot(r, &rules, b->start) < 0)
        goto out;
    char start[24], end[24], gap[24];
    snprintf(start, sizeof start, "%lld", (long long)b->start);
    snprintf(end, sizeof end, "%lld", (long long)(b->start + rules.slot_min * 60));
    snprintf(gap, sizeof gap, "%d", (rules.slot_min + rules.buffer_min) * 60);
    const char *args[8 + CONFIG_MAX_REMINDERS];
    offsets_t o;
    int n;
    if (b->reschedule) {
        args[0] = req_user(r), args[1] = b->bid, args[2] = start, args[3] = end, args[4] = gap;
        n = push_offsets(args, 5, &o);
        feature_eval_answer(r, "schedule_reschedule", 0, n, args);
    } else {
        args[0] = b->bid, args[1] = req_user(r), args[2] = b->mentor, args[3] = start, args[4] = end;
        args[5] = b->topic, args[6] = gap;
        n = push_offsets(args, 7, &o);
        feature_eval_answer(r, "schedule_book", 0, n, args);
    }
out:
    free(b);
}

static void load_rules(book_t *b)
{
    store_cmdf(book_rules, b, "GET sched:avail:%s", b->mentor);
}

static void schedule_book(req_t *r)
{
    const char *mentor, *topic = "";
    long long start;
    if (feature_req_id(r, "mentor", 0, 1, &mentor) < 0 || req_int(r, "start", 0, 32503680000LL, 1, &start) < 0 ||
        req_str(r, "topic", 0, 200, 0, &topic) < 0)
        return;
    if (strcmp(mentor, req_user(r)) == 0) {
        req_error_ex(r, E_BAD_REQUEST, "mentor", 0, "mentor: you cannot book yourself");
        return;
    }
    book_t *b = calloc(1, sizeof *b);
    if (!b || feature_id_new(b->bid) < 0) {
        free(b);
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    b->r = r;
    strcpy(b->mentor, mentor);
    b->start = start;
    b->topic = topic;
    load_rules(b);
}

static void reschedule_active(const store_reply_t *rep, void *priv)
{
    book_t *b = priv;
    json_t *o = NULL;
    if (rep && store_type(rep) == STORE_STR) {
        size_t len;
        const char *text = store_str(rep, &len);
        o = json_loadb(text, len, 0, NULL);
    }
    const char *m = json_string_value(json_object_get(json_object_get(json_object_get(o, "booking"), "mentor"), "id"));
    if (!m || !feature_id_valid(m)) {
        if (o)
            req_error(b->r, E_INTERNAL, "internal error");
        else
            req_store_error(b->r, rep);
        json_decref(o);
        free(b);
        return;
    }
    strcpy(b->mentor, m);
    json_decref(o);
    load_rules(b);
}

static void schedule_reschedule(req_t *r)
{
    const char *bid;
    long long start;
    if (feature_req_id(r, "booking", 0, 1, &bid) < 0 || req_int(r, "start", 0, 32503680000LL, 1, &start) < 0)
        return;
    book_t *b = calloc(1, sizeof *b);
    if (!b) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    b->r = r;
    strcpy(b->bid, bid);
    b->start = start;
    b->reschedule = 1;
    const char *args[] = {req_user(r), bid};
    store_fcall("schedule_active", reschedule_active, b, 0, 2, args);
}

/* ---------------- cancel, mine, join, notifications ---------------- */

static void schedule_cancel(req_t *r)
{
    const char *bid;
    if (feature_req_id(r, "booking", 0, 1, &bid) < 0)
        return;
    const char *args[2 + CONFIG_MAX_REMINDERS] = {req_user(r), bid};
    offsets_t o;
    int n = push_offsets(args, 2, &o);
    feature_eval_answer(r, "schedule_cancel", 0, n, args);
}

static void schedule_mine(req_t *r)
{
    const char *args[] = {req_user(r)};
    feature_eval_answer(r, "schedule_mine", 0, 1, args);
}

static void session_join(req_t *r)
{
    const char *bid;
    if (feature_req_id(r, "booking", 0, 1, &bid) < 0)
        return;
    char before[16], after[16];
    snprintf(before, sizeof before, "%d", JOIN_OPENS_BEFORE);
    snprintf(after, sizeof after, "%d", JOIN_CLOSES_AFTER);
    const char *args[] = {req_user(r), bid, before, after};
    feature_eval_answer(r, "session_join", 0, 4, args);
}

static void notifications_list(req_t *r)
{
    char nk[KEY_MAX];
    const char *args[] = {key(nk, "notif:", req_user(r), "")};
    feature_eval_answer(r, "notifications_list", 1, 0, args);
}

static const handler_t handlers[] = {
    {"schedule.availability.set", availability_set, H_RL_READ},
    {"schedule.availability.get", availability_get, H_RL_READ},
    {"schedule.slots", schedule_slots, H_RL_READ},
    {"schedule.book", schedule_book, H_RL_MSG},
    {"schedule.cancel", schedule_cancel, H_RL_READ},
    {"schedule.reschedule", schedule_reschedule, H_RL_READ},
    {"schedule.mine", schedule_mine, H_RL_READ},
    {"session.join", session_join, H_RL_READ},
    {"notifications.list", notifications_list, H_RL_READ},
    {NULL, NULL, 0},
};

static int schedule_start(uv_loop_t *loop);
static void schedule_stop(void);

static void ics_route(ws_http_req_t *req, void *arg);

static const module_route_t routes[] = {
    {"/ics", ics_route, NULL},
    {NULL, NULL, NULL},
};

const module_t schedule_module = {
    .name = "schedule",
    .handlers = handlers,
    .routes = routes,
    .start = schedule_start,
    .stop = schedule_stop,
};

/* ---------------- reminders ---------------- */

static uv_timer_t tick_timer;
static int ticking, tick_busy;

static void tick_done(const store_reply_t *rep, void *priv)
{
    (void)priv;
    tick_busy = 0;
    if (rep && store_type(rep) == STORE_INT && store_int(rep) > 0)
        log_info("schedule: sent %lld reminders", store_int(rep));
    else if (rep && store_type(rep) == STORE_ERR)
        log_error("schedule: reminder claim failed: %s", store_str(rep, NULL));
}

static void tick(uv_timer_t *t)
{
    (void)t;
    /* one claim at a time per node; while Redis is down there is nothing to claim from */
    if (tick_busy || !store_is_up())
        return;
    tick_busy = 1;
    store_fcall("schedule_tick", tick_done, NULL, 0, 0, NULL);
}

static int schedule_start(uv_loop_t *loop)
{
    uint64_t every = (uint64_t)config_get()->schedule_tick;
    uv_timer_init(loop, &tick_timer);
    uv_timer_start(&tick_timer, tick, every, every);
    ticking = 1;
    return 0;
}

static void schedule_stop(void)
{
    if (!ticking)
        return;
    ticking = 0;
    uv_timer_stop(&tick_timer);
    uv_close((uv_handle_t *)&tick_timer, NULL);
}

typedef struct {
    uint64_t conn;
} signed_in_t;

static void pending_cb(const store_reply_t *rep, void *priv)
{
    signed_in_t *s = priv;
    conn_t *c = conn_find(s->conn);
    for (size_t i = 0; c && rep && store_type(rep) == STORE_ARR && i < store_len(rep); i++) {
        size_t len = 0;
        const char *text = store_str(store_elem(rep, i), &len);
        if (text)
            conn_send_text(c, text, len);
    }
    free(s);
}

void schedule_signed_in(uint64_t conn, const char *uid)
{
    signed_in_t *s = malloc(sizeof *s);
    if (!s)
        return;
    s->conn = conn;
    char nk[KEY_MAX];
    const char *args[] = {key(nk, "notif:", uid, ":pending")};
    store_fcall("schedule_pending", pending_cb, s, 1, 0, args);
}

/* ---------------- .ics ---------------- */

/* The answer of a lookup: status is an HTTP status (200, 401, 403, 404, 503, 500); body is the calendar
 * (text/calendar) for 200, a short text otherwise; both borrowed for the call only. */
typedef void (*ics_cb)(int status, const char *body, size_t len, void *priv);

typedef struct {
    ics_cb cb;
    void *priv;
    char *join_url;
} ics_job_t;

static int http_status_of(const store_reply_t *rep)
{
    if (!rep)
        return 503;
    const char *e = store_type(rep) == STORE_ERR ? store_str(rep, NULL) : NULL;
    if (e && strncmp(e, "unauthorized:", 13) == 0)
        return 401;
    if (e && strncmp(e, "forbidden:", 10) == 0)
        return 403;
    if (e && strncmp(e, "not_found:", 10) == 0)
        return 404;
    return 500;
}

static void ics_answer(ics_job_t *j, int status, const char *text)
{
    j->cb(status, text, strlen(text), j->priv);
}

static const char *ics_error_text(int st)
{
    return st == 401 ? "no such calendar token\n" : st == 403 ? "not your booking\n" :
           st == 404 ? "no such booking\n" : st == 503 ? "unavailable\n" : "internal error\n";
}

/* One booking object (borrowed) as an event; the strings are written into the caller's buffers. */
typedef struct {
    char uid[64], summary[160], desc[512], url[256];
} ics_text_t;

static ics_event_t ics_event_of(const json_t *b, const char *join_base, ics_text_t *t)
{
    const char *peer_m = json_string_value(json_object_get(json_object_get(b, "mentor"), "display_name"));
    const char *peer_e = json_string_value(json_object_get(json_object_get(b, "mentee"), "display_name"));
    const char *topic = json_string_value(json_object_get(b, "topic"));
    const char *id = json_string_value(json_object_get(b, "id"));
    snprintf(t->uid, sizeof t->uid, "%s@staffroom", id ? id : "");
    snprintf(t->url, sizeof t->url, "%s%s", join_base ? join_base : "", id ? id : "");
    snprintf(t->summary, sizeof t->summary, "Mentoring: %s with %s", peer_e ? peer_e : "", peer_m ? peer_m : "");
    snprintf(t->desc, sizeof t->desc, "%s%sJoin the session: %s", topic && *topic ? topic : "",
             topic && *topic ? "\n" : "", t->url);
    const char *status = json_string_value(json_object_get(b, "status"));
    return (ics_event_t){
        .uid = t->uid,
        .start = json_integer_value(json_object_get(b, "start")),
        .end = json_integer_value(json_object_get(b, "end")),
        .stamp = json_integer_value(json_object_get(b, "updated")) / 1000,
        .sequence = (long)json_integer_value(json_object_get(b, "sequence")),
        .cancelled = status && strcmp(status, "cancelled") == 0,
        .summary = t->summary,
        .description = t->desc,
        .url = join_base ? t->url : NULL,
    };
}

/* The library's answer (a JSON object text) parsed, or NULL with *status the HTTP status to answer. */
static json_t *ics_reply(const store_reply_t *rep, int *status)
{
    json_t *o = NULL;
    if (rep && store_type(rep) == STORE_STR) {
        size_t len;
        const char *text = store_str(rep, &len);
        o = json_loadb(text, len, 0, NULL);
    }
    if (!json_is_object(o)) {
        json_decref(o);
        *status = o ? 500 : http_status_of(rep);
        return NULL;
    }
    return o;
}

/* ics_job_t's join_url is the join link's base (".../join/"), the booking id is appended. */
static void ics_loaded(const store_reply_t *rep, void *priv)
{
    ics_job_t *j = priv;
    int st;
    json_t *b = ics_reply(rep, &st);
    if (!b) {
        ics_answer(j, st, ics_error_text(st));
        goto out;
    }
    ics_text_t t;
    ics_event_t ev = ics_event_of(b, j->join_url, &t);
    size_t len;
    char *text = ics_render(&ev, &len);
    if (text)
        j->cb(200, text, len, j->priv);
    else
        ics_answer(j, 500, "internal error\n");
    free(text);
out:
    json_decref(b);
    free(j->join_url);
    free(j);
}

static void ics_feed_loaded(const store_reply_t *rep, void *priv)
{
    ics_job_t *j = priv;
    int st;
    json_t *o = ics_reply(rep, &st);
    json_t *list = json_object_get(o, "bookings");
    size_t n = json_array_size(list);
    ics_event_t *evs = calloc(n ? n : 1, sizeof *evs);
    ics_text_t *texts = calloc(n ? n : 1, sizeof *texts);
    if (!o) {
        ics_answer(j, st, ics_error_text(st));
    } else if (!evs || !texts) {
        ics_answer(j, 500, "internal error\n");
    } else {
        for (size_t i = 0; i < n; i++)
            evs[i] = ics_event_of(json_array_get(list, i), j->join_url, &texts[i]);
        size_t len;
        char *text = ics_render_feed(evs, n, &len);
        if (text)
            j->cb(200, text, len, j->priv);
        else
            ics_answer(j, 500, "internal error\n");
        free(text);
    }
    free(evs);
    free(texts);
    json_decref(o);
    free(j->join_url);
    free(j);
}

/* Checks the calendar token (hex, borrowed; never a session token: calendar.token) against Redis and
 * renders booking bid's calendar — or, when bid is NULL, the feed of all the token's user's bookings —
 * with join links starting with join_base (borrowed, may be NULL). cb is called exactly once, later, from
 * the loop. */
static void ics_lookup(const char *bid, const char *token, const char *join_base, ics_cb cb, void *priv)
{
    ics_job_t *j = calloc(1, sizeof *j);
    char caltoken[80];
    if (!j) {
        cb(500, "internal error\n", 15, priv);
        return;
    }
    j->cb = cb;
    j->priv = priv;
    j->join_url = join_base ? strdup(join_base) : NULL;
    /* A malformed token or id is answered like an unknown one, but still later (from the loop): the
     * script is given a key no token can have. */
    if (!token || accounts_calendar_key(token, caltoken) < 0)
        snprintf(caltoken, sizeof caltoken, "caltoken:-");
    if (!bid) {
        const char *args[] = {caltoken};
        store_fcall("schedule_ics_feed", ics_feed_loaded, j, 1, 0, args);
        return;
    }
    const char *id = feature_id_valid(bid) ? bid : "-";
    char bk[KEY_MAX];
    const char *args[] = {caltoken, key(bk, "booking:", id, ""), id};
    store_fcall("schedule_ics", ics_loaded, j, 2, 1, args);
}

/* ---------------- GET /ics/<booking>.ics (a ws.h route) ---------------- */

static void ics_answered(int status, const char *body, size_t len, void *priv)
{
    ws_http_answer(priv, status, status == 200 ? "text/calendar; charset=utf-8" : "text/plain; charset=utf-8", body,
                   len);
}

/* The token: ?token=… or "Authorization: Bearer …"; "" if neither. */
static void ics_token(ws_http_req_t *req, char *out, size_t cap)
{
    char auth[128];
    if (ws_http_arg(req, "token", out, cap) >= 0)
        return;
    if (ws_http_header(req, "authorization", auth, sizeof auth) > 7 && strncmp(auth, "Bearer ", 7) == 0)
        snprintf(out, cap, "%s", auth + 7);
}

/* GET /ics/<booking>.ics (one booking) or /ics/feed.ics (a webcal: subscription of all the user's
 * sessions), with the user's calendar token. Answered once Redis has checked the token; the join link
 * points at the host the client asked for (a calendar app opens it from the same network), unless that
 * Host header is unusable. */
static void ics_route(ws_http_req_t *req, void *arg)
{
    (void)arg;
    const char *uri = ws_http_path(req);
    char bid[40], token[128], host[128], url[256];
    size_t n = strlen(uri);
    int feed = strcmp(uri, "/ics/feed.ics") == 0;
    if (!feed && (n != 5 + 32 + 4 || strcmp(uri + n - 4, ".ics") != 0)) {
        ws_http_answer(req, 404, "text/plain; charset=utf-8", "no such booking\n", 16);
        return;
    }
    if (!feed) {
        memcpy(bid, uri + 5, 32);
        bid[32] = '\0';
    }
    ics_token(req, token, sizeof token);
    if (ws_http_header(req, "host", host, sizeof host) <= 0 || strpbrk(host, "\r\n \"<>")) {
        const signal_config_t *cfg = config_get();
        snprintf(host, sizeof host, "%s:%lld", cfg->listen_address, cfg->listen_port);
    }
    snprintf(url, sizeof url, "http://%s/#/sessions/join/", host); /* the web client's route */
    ics_lookup(feed ? NULL : bid, token, url, ics_answered, req);
}

