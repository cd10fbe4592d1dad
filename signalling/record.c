/* record.c — see record.h. */
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "config.h"
#include "feature.h"
#include "log.h"
#include "media_acl.h"
#include "msg.h"
#include "pg.h"
#include "sfu_link.h"
#include "store.h"

#define ROOM_ID_MAX (FEATURE_ID_LEN + 1)

/* The SFU's path of a recording under the media directory (config: the SFU's recordings-dir is
 * <media directory>/recordings). */
#define RECORDINGS_SUBDIR "recordings"

/* ---- talking to the SFU ---- */

typedef struct {
    char room[ROOM_ID_MAX + 1];
    char id[FEATURE_ID_LEN + 1];
} rec_job_t;

static rec_job_t *job_new(const char *room, const char *id)
{
    rec_job_t *j = calloc(1, sizeof *j);
    if (j) {
        snprintf(j->room, sizeof j->room, "%s", room);
        snprintf(j->id, sizeof j->id, "%s", id);
    }
    return j;
}

/* The recording's state after the SFU's answer to record.start: "recording", or off with reason. */
static void started(const char *room, const char *id, const char *failure)
{
    const char *args[] = {room, id, failure};
    store_fcall("record_started", NULL, NULL, 0, failure ? 3 : 2, args);
}

static void on_start_reply(const json_t *reply, void *priv)
{
    rec_job_t *j = priv;
    const char *op = json_string_value(json_object_get(reply, "op"));
    if (op && strcmp(op, "ok") == 0) {
        log_info("record: room %s records as %s", j->room, j->id);
        started(j->room, j->id, NULL);
    } else {
        const char *msg = json_string_value(json_object_get(reply, "message"));
        log_warn("record: the SFU did not start recording room %s: %s", j->room, msg ? msg : "no answer");
        started(j->room, j->id, "unavailable");
    }
    free(j);
}

/* The SFU refused record.stop or did not answer: it has no recording of the room (it died, or the room
 * emptied and its recorded event is on the way) — without an answer the state would stay "stopping". */
static void on_stop_reply(const json_t *reply, void *priv)
{
    rec_job_t *j = priv;
    const char *op = json_string_value(json_object_get(reply, "op"));
    if (j && (!op || strcmp(op, "ok") != 0)) {
        log_warn("record: the SFU did not stop recording %s of room %s: %s", j->id, j->room,
                 op ? json_string_value(json_object_get(reply, "message")) : "no answer");
        const char *args[] = {j->room, j->id, "failed"};
        store_fcall("record_finished", NULL, NULL, 0, 3, args);
    }
    free(j);
}

/* Everyone present agreed (a library function's start reply): the room's SFU records their devices. */
static void start_on_sfu(const json_t *fields)
{
    const char *room = json_string_value(json_object_get(fields, "room"));
    const char *id = json_string_value(json_object_get(fields, "recording"));
    const char *sfu = json_string_value(json_object_get(fields, "sfu"));
    if (!room || !id)
        return;
    if (!sfu || !sfu_link_id_valid(sfu)) {
        started(room, id, "no_media"); /* nobody has connected media yet: there is nothing to record */
        return;
    }
    rec_job_t *j = job_new(room, id);
    json_t *cmd = json_pack("{s:s, s:s, s:s, s:O}", "op", "record.start", "room", room, "name", id, "pids",
                            json_object_get(fields, "pids"));
    if (!j || !cmd) {
        free(j);
        json_decref(cmd);
        started(room, id, "unavailable");
        return;
    }
    sfu_link_request(sfu, cmd, on_start_reply, j);
    json_decref(cmd);
}

/* ---- the SFU closed the files: the media row ---- */

#define INSERT_SQL                                                                                             \
    "WITH m AS (INSERT INTO media (id, owner, kind, title, mime, duration_ms, path, state, circle, session, meta)" \
    " VALUES ($1, $2, 'recording', $3, 'video/webm', $4::integer, $5, 'ready', NULLIF($6, ''), NULLIF($7, ''),"  \
    " $8::jsonb) ON CONFLICT (id) DO NOTHING RETURNING id)"                                                   \
    " INSERT INTO media_shares (media_id, user_id) SELECT m.id, u FROM m, unnest($9::text[]) u WHERE u <> $2"   \
    " ON CONFLICT DO NOTHING"

typedef struct {
    json_t *event; /* room.record.saved, published to the owners once stored */
    json_t *owners;
} saved_t;

static void publish_saved(saved_t *s)
{
    size_t i;
    json_t *u;
    json_array_foreach(s->owners, i, u)
        bus_publish_user(json_string_value(u), s->event);
    json_decref(s->event);
    json_decref(s->owners);
    free(s);
}

static void on_inserted(const pg_result_t *res, void *priv)
{
    saved_t *s = priv;
    if (!res) {
        log_error("record: the recording %s could not be stored",
                  json_string_value(json_object_get(json_object_get(s->event, "media"), "id")));
        json_object_set_new(s->event, "stored", json_false());
    }
    publish_saved(s);
}

/* A PostgreSQL text[] literal of the owners after the first: {"a","b"} (ids are hex: no quoting needed). */
static void shares_literal(const json_t *owners, char *out, size_t n)
{
    size_t used = (size_t)snprintf(out, n, "{");
    for (size_t i = 1; i < json_array_size(owners) && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s\"%s\"", i > 1 ? "," : "",
                                 json_string_value(json_array_get(owners, i)));
    if (used < n)
        snprintf(out + used, n - used, "}");
}

typedef struct {
    json_t *msg; /* the SFU's recorded event */
} finish_t;

static void on_finished(const store_reply_t *rep, void *priv)
{
    finish_t *f = priv;
    json_t *msg = f->msg;
    free(f);
    const char *text = store_ok(rep) ? store_str(rep, NULL) : NULL;
    json_t *fields = text ? json_loads(text, 0, NULL) : NULL;
    json_t *owners = json_object_get(fields, "owners");
    json_t *files = json_object_get(msg, "files");
    const char *id = json_string_value(json_object_get(msg, "name"));
    const char *room = json_string_value(json_object_get(msg, "room"));
    if (!json_array_size(owners) || !id || !room) {
        log_warn("record: a recorded event for no recording we know (%s): dropped", id ? id : "?");
        goto out;
    }
    if (!json_array_size(files)) {
        log_warn("record: recording %s of room %s has no playable file", id, room);
        goto out;
    }
    long long duration = 0;
    size_t i;
    json_t *file;
    json_array_foreach(files, i, file)
    {
        long long d = json_integer_value(json_object_get(file, "duration_ms")) +
                      json_integer_value(json_object_get(file, "offset_ms"));
        if (d > duration)
            duration = d;
    }
    json_t *meta = json_pack("{s:O, s:O, s:O, s:O}", "started_at", json_object_get(msg, "started_at"), "duration_ms",
                             json_object_get(msg, "duration_ms"), "reason", json_object_get(msg, "reason"), "files", files);
    char *meta_text = json_dumps(meta, JSON_COMPACT);
    json_t *media = json_pack("{s:s, s:s, s:I, s:O, s:O}", "id", id, "kind", "recording", "duration_ms",
                              (json_int_t)duration, "meta", meta, "owners", owners);
    saved_t *s = calloc(1, sizeof *s);
    if (!s || !meta_text || !media) {
        free(s);
        free(meta_text);
        json_decref(media);
        json_decref(meta);
        goto out;
    }
    s->event = json_pack("{s:s, s:s, s:o}", "type", "room.record.saved", "room", room, "media", media);
    s->owners = json_incref(owners);
    char title[64], dur[24], path[128], shares[2048];
    time_t started_at = (time_t)(json_integer_value(json_object_get(msg, "started_at")) / 1000);
    struct tm tm;
    gmtime_r(&started_at, &tm);
    strftime(title, sizeof title, "Recording %Y-%m-%d %H:%M UTC", &tm);
    snprintf(dur, sizeof dur, "%lld", duration);
    snprintf(path, sizeof path, RECORDINGS_SUBDIR "/%s", id);
    shares_literal(owners, shares, sizeof shares);
    const char *circle = json_string_value(json_object_get(fields, "circle"));
    const char *session = json_string_value(json_object_get(fields, "session"));
    const char *params[] = {id, json_string_value(json_array_get(owners, 0)), title, dur, path,
                            circle ? circle : "", session ? session : "", meta_text, shares};
    json_decref(meta);
    if (!pg_configured()) {
        log_warn("record: no PostgreSQL configured: recording %s is kept on disk only", id);
        json_object_set_new(s->event, "stored", json_false());
        publish_saved(s);
    } else {
        pg_query(INSERT_SQL, 9, params, on_inserted, s);
    }
    free(meta_text);
out:
    json_decref(fields);
    json_decref(msg);
}

/* sfu_link observer: the SFU closed a recording's files (record.stop, its limit, or the room emptied). */
static void on_recorded(const json_t *msg)
{
    const char *room = json_string_value(json_object_get(msg, "room"));
    const char *id = json_string_value(json_object_get(msg, "name"));
    const char *reason = json_string_value(json_object_get(msg, "reason"));
    finish_t *f = calloc(1, sizeof *f);
    if (!room || !id || !f) {
        free(f);
        return;
    }
    log_info("record: recording %s of room %s ended (%s), files closed in %lld ms", id, room, reason ? reason : "?",
             (long long)json_integer_value(json_object_get(msg, "finalize_ms")));
    f->msg = json_deep_copy(msg);
    const char *args[] = {room, id, reason ? reason : "stopped"};
    store_fcall("record_finished", on_finished, f, 0, 3, args);
}

/* ---- requests ---- */

static conn_t *signed_in(req_t *r)
{
    conn_t *c = conn_find(req_conn(r));
    if (!c || !conn_user(c)) {
        req_error(r, E_UNAUTHORIZED, "sign in first");
        return NULL;
    }
    return c;
}

/* A room id as rooms.c makes them: 32 hex, or 32 hex and "s". */
static int req_room(req_t *r, const char **out)
{
    const char *v;
    if (req_str(r, "room", 1, ROOM_ID_MAX, 1, &v) < 0)
        return -1;
    char buf[FEATURE_ID_LEN + 1];
    snprintf(buf, sizeof buf, "%s", v);
    if (!feature_id_valid(buf) || (strlen(v) == ROOM_ID_MAX && v[FEATURE_ID_LEN] != 's')) {
        req_error_ex(r, E_BAD_REQUEST, "room", 0, "room is not a valid room id");
        return -1;
    }
    *out = v;
    return 0;
}

/* What a library function answered, acted on: start on the SFU, allow a late joiner, stop. Then the
 * client gets the public part. priv: the device (malloc'd). */
static void after(req_t *r, const json_t *fields, void *priv)
{
    char *device = priv;
    if (fields && json_is_true(json_object_get(fields, "start"))) {
        start_on_sfu(fields);
    } else if (fields && json_is_true(json_object_get(fields, "allow"))) {
        const char *sfu = json_string_value(json_object_get(fields, "sfu"));
        const char *room = json_string_value(json_object_get(fields, "room"));
        if (sfu && room && sfu_link_id_valid(sfu)) {
            json_t *cmd = json_pack("{s:s, s:s, s:s}", "op", "record.allow", "room", room, "pid", device);
            sfu_link_send(sfu, cmd);
            json_decref(cmd);
        }
    } else if (fields && json_is_true(json_object_get(fields, "stop"))) {
        const char *sfu = json_string_value(json_object_get(fields, "sfu"));
        const char *room = json_string_value(json_object_get(fields, "room"));
        const char *id = json_string_value(json_object_get(fields, "recording"));
        rec_job_t *j = room && id ? job_new(room, id) : NULL;
        json_t *cmd = json_pack("{s:s, s:s}", "op", "record.stop", "room", room ? room : "");
        if (j && cmd && sfu && sfu_link_id_valid(sfu)) {
            sfu_link_request(sfu, cmd, on_stop_reply, j); /* then the SFU's recorded event */
        } else {
            on_stop_reply(NULL, j);
        }
        json_decref(cmd);
    }
    /* The ok answer carries only what the client may see. */
    json_t *f = (json_t *)fields;
    if (f) {
        json_object_del(f, "sfu");
        json_object_del(f, "pids");
        json_object_del(f, "start");
        json_object_del(f, "allow");
        json_object_del(f, "stop");
    }
    (void)r;
    free(device);
}

/* Calls fn(room, user, device, extra…) and answers r through after(). */
static void run(req_t *r, const char *fn, const char *extra)
{
    const char *room;
    if (req_room(r, &room) < 0)
        return;
    conn_t *c = signed_in(r);
    if (!c)
        return;
    char *device = strdup(conn_device(c));
    if (!device) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    const char *args[] = {room, req_user(r), device, extra};
    feature_eval_then(r, fn, 0, extra ? 4 : 3, args, after, device);
}

static void on_request(req_t *r)
{
    char id[FEATURE_ID_LEN + 1];
    if (feature_id_new(id) < 0) {
        req_error(r, E_INTERNAL, "no random source");
        return;
    }
    run(r, "record_request", id);
}

static void on_consent(req_t *r)
{
    int agree;
    if (req_bool(r, "agree", 1, &agree) < 0)
        return;
    run(r, "record_consent", agree ? "1" : "0");
}

static void on_stop(req_t *r) { run(r, "record_stop", NULL); }

static void on_status(req_t *r)
{
    const char *room;
    if (req_room(r, &room) < 0)
        return;
    conn_t *c = signed_in(r);
    if (!c)
        return;
    const char *args[] = {room, conn_device(c)};
    feature_eval_answer(r, "record_status", 0, 2, args);
}

/* record_newcomers may answer a start (an ask completed by a leaver): then this node starts it. */
static void on_newcomers(const store_reply_t *rep, void *priv)
{
    (void)priv;
    const char *text = store_ok(rep) ? store_str(rep, NULL) : NULL;
    json_t *fields = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_true(json_object_get(fields, "start")))
        start_on_sfu(fields);
    json_decref(fields);
}

/* recording.list: the user's recordings (owned or shared; media_acl.h's rule, without the library's circles:
 * the library lists what it publishes). */
#define LIST_SQL                                                                                               \
    "SELECT m.id, m.title, m.duration_ms, (extract(epoch FROM m.created_at) * 1000)::bigint, m.owner,"        \
    " coalesce(m.circle, ''), coalesce(m.session, ''), m.meta::text FROM media m"                             \
    " WHERE m.kind = 'recording' AND m.state = 'ready' AND " MEDIA_CAN_VIEW_SQL("m", "$1", "$3")              \
    " AND ($2 = '' OR m.session = $2) ORDER BY m.created_at DESC LIMIT 100"

static void on_listed(const pg_result_t *res, void *priv)
{
    req_t *r = priv;
    if (!res) {
        req_error(r, E_UNAVAILABLE, "the recordings cannot be read now; try again");
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < pg_ntuples(res); i++) {
        const char *dur = pg_value(res, i, 2);
        json_t *meta = json_loads(pg_value(res, i, 7) ? pg_value(res, i, 7) : "{}", 0, NULL);
        json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:I, s:s, s:s, s:s, s:o}", "id", pg_value(res, i, 0),
                                              "title", pg_value(res, i, 1), "duration_ms",
                                              dur ? json_integer(atoll(dur)) : json_null(), "created_at",
                                              (json_int_t)atoll(pg_value(res, i, 3)), "owner", pg_value(res, i, 4),
                                              "circle", pg_value(res, i, 5), "session", pg_value(res, i, 6), "meta",
                                              meta ? meta : json_object()));
    }
    req_ok(r, json_pack("{s:o}", "recordings", list));
}

static void on_list(req_t *r)
{
    const char *session = "";
    if (!signed_in(r) || feature_req_id(r, "session", 0, 0, &session) < 0)
        return;
    if (!pg_configured()) {
        req_error(r, E_UNAVAILABLE, "recordings need PostgreSQL, which this server does not have");
        return;
    }
    const char *params[] = {req_user(r), session, "{}"};
    pg_query(LIST_SQL, 3, params, on_listed, r);
}

/* bus observer: the participants of a room changed. If one of them is on this node, newcomers are asked
 * (and an ask whose last missing answer left starts): the library function does it once, whichever node
 * calls first. */
static void on_participants(const char *payload, size_t len)
{
    json_t *ev = json_loadb(payload, len, 0, NULL);
    const char *room = json_string_value(json_object_get(ev, "room"));
    json_t *list = json_object_get(ev, "participants");
    size_t i;
    json_t *p;
    int local = 0;
    json_array_foreach(list, i, p)
    {
        const char *dev = json_string_value(json_object_get(p, "device"));
        if (dev && conn_find_device(dev))
            local = 1;
    }
    if (room && local && store_is_up()) {
        const char *args[] = {room};
        store_fcall("record_newcomers", on_newcomers, NULL, 0, 1, args);
    }
    json_decref(ev);
}

static int record_start(uv_loop_t *loop)
{
    (void)loop;
    bus_observe("room.participants", on_participants);
    return sfu_link_observe("recorded", on_recorded);
}

static const handler_t handlers[] = {
    {"room.record.request", on_request, H_RL_MSG},
    {"room.record.consent", on_consent, H_RL_SIGNAL},
    {"room.record.stop", on_stop, H_RL_SIGNAL},
    {"room.record.status", on_status, H_RL_READ},
    {"recording.list", on_list, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t record_module = {
    .name = "record",
    .handlers = handlers,
    .start = record_start,
};
