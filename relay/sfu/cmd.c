/* cmd.c — see cmd.h. */
#include "cmd.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

#define CMD_MAX_BYTES (512 * 1024) /* an offer for 25 participants' tracks stays far below */
#define ID_MAX 128

struct cmd {
    control_t *control;
    sfu_t *sfu;
    unsigned long long bad;
};

cmd_t *cmd_new(void) { return calloc(1, sizeof(cmd_t)); }
void cmd_set_control(cmd_t *c, control_t *control) { c->control = control; }
void cmd_set_sfu(cmd_t *c, sfu_t *sfu) { c->sfu = sfu; }
void cmd_free(cmd_t *c) { free(c); }

/* ---- emitting ----------------------------------------------------------------------------------- */

static void publish(cmd_t *c, const char *node, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text && c->control && node && *node)
        control_publish(c->control, node, text);
    free(text);
}

static json_t *base(const char *op, const char *tx, const char *room, const char *pid)
{
    json_t *m = json_object();
    json_object_set_new(m, "op", json_string(op));
    if (tx) {
        json_t *t = json_loads(tx, JSON_DECODE_ANY, NULL);
        json_object_set_new(m, "tx", t ? t : json_null());
    }
    json_object_set_new(m, "room", json_string(room));
    if (pid)
        json_object_set_new(m, "pid", json_string(pid));
    return m;
}

static void ev_answer(void *ctx, const char *node, const char *tx, const char *room, const char *pid, const char *sdp)
{
    json_t *m = base("answer", tx, room, pid);
    json_object_set_new(m, "sdp", json_string(sdp));
    publish(ctx, node, m);
}

static void ev_ok(void *ctx, const char *node, const char *tx, const char *room, const char *pid)
{
    publish(ctx, node, base("ok", tx, room, pid));
}

static void ev_error(void *ctx, const char *node, const char *tx, const char *room, const char *pid, const char *code,
                     const char *message)
{
    json_t *m = base("error", tx, room, pid);
    json_object_set_new(m, "code", json_string(code));
    json_object_set_new(m, "message", json_string(message));
    publish(ctx, node, m);
}

static void ev_offer(void *ctx, const char *node, const char *room, const char *pid, const char *sdp,
                     const sfu_track_info_t *tracks, size_t ntracks)
{
    json_t *m = base("offer", NULL, room, pid);
    json_object_set_new(m, "sdp", json_string(sdp));
    json_t *t = json_object();
    for (size_t i = 0; i < ntracks; i++)
        json_object_set_new(t, tracks[i].mid,
                            json_pack("{s:s, s:s, s:s}", "pid", tracks[i].pid, "user", tracks[i].user, "kind", tracks[i].kind));
    json_object_set_new(m, "tracks", t);
    publish(ctx, node, m);
}

static void ev_candidate(void *ctx, const char *node, const char *room, const char *pid, const char *mid, const char *cand)
{
    json_t *m = base("candidate", NULL, room, pid);
    json_object_set_new(m, "mid", json_string(mid));
    json_object_set_new(m, "candidate", json_string(cand));
    publish(ctx, node, m);
}

static void ev_gone(void *ctx, const char *node, const char *room, const char *pid, const char *reason)
{
    json_t *m = base("gone", NULL, room, pid);
    json_object_set_new(m, "reason", json_string(reason));
    publish(ctx, node, m);
}

static json_t *string_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void ev_moved(void *ctx, const char *node, const char *room, const char *const *pids, size_t n)
{
    json_t *m = base("moved", NULL, room, NULL);
    json_object_set_new(m, "pids", string_array(pids, n));
    json_object_set_new(m, "reason", json_string("drain"));
    publish(ctx, node, m);
}

static void ev_speaker(void *ctx, const char *node, const char *room, const char *pid, const char *const *to, size_t n)
{
    json_t *m = base("speaker", NULL, room, pid);
    json_object_set_new(m, "to", string_array(to, n));
    publish(ctx, node, m);
}

static void ev_layers(void *ctx, const char *node, const char *room, const char *pid, const char *label,
                      const char *const *paused, size_t n)
{
    json_t *m = base("layers", NULL, room, pid);
    json_object_set_new(m, "label", json_string(label));
    json_object_set_new(m, "paused", string_array(paused, n));
    publish(ctx, node, m);
}

/* The files a player needs, each with its start offset from the recording's start (signalling/PROTOCOL.md). */
static void ev_recorded(void *ctx, const char *node, const char *room, const char *name, const char *reason,
                        const recorder_result_t *res)
{
    json_t *m = base("recorded", NULL, room, NULL);
    json_object_set_new(m, "name", json_string(name));
    json_object_set_new(m, "reason", json_string(reason));
    json_object_set_new(m, "started_at", json_integer(res->started_at_ms));
    json_object_set_new(m, "duration_ms", json_integer(res->duration_ms));
    json_object_set_new(m, "finalize_ms", json_integer(res->finalize_ms));
    json_object_set_new(m, "dropped", json_integer((json_int_t)res->queue_dropped));
    json_t *files = json_array();
    for (size_t i = 0; i < res->nfiles; i++) {
        const recorder_file_t *f = &res->files[i];
        if (!f->ok)
            continue; /* a track that sent nothing recordable has no file */
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "file", f->file, "pid", f->pid,
                              "user", f->user, "label", f->label, "kind", f->kind, "codec", f->codec, "offset_ms",
                              (json_int_t)f->offset_ms, "duration_ms", (json_int_t)f->duration_ms, "frames",
                              (json_int_t)f->frames, "dropped", (json_int_t)f->dropped);
        if (o && !strcmp(f->kind, "video")) {
            json_object_set_new(o, "width", json_integer(f->width));
            json_object_set_new(o, "height", json_integer(f->height));
        }
        if (o)
            json_array_append_new(files, o);
    }
    json_object_set_new(m, "files", files);
    publish(ctx, node, m);
}

sfu_events_t cmd_events(cmd_t *c)
{
    return (sfu_events_t){.answer = ev_answer, .ok = ev_ok, .error = ev_error, .offer = ev_offer,
                          .candidate = ev_candidate, .gone = ev_gone, .moved = ev_moved, .speaker = ev_speaker,
                          .layers = ev_layers, .recorded = ev_recorded, .ctx = c};
}

/* ---- parsing ------------------------------------------------------------------------------------ */

/* A string member no longer than max (0 = any), or NULL. */
static const char *str(json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || (max && json_string_length(v) > max))
        return NULL;
    return json_string_value(v);
}

static void bad(cmd_t *c, const char *why, json_t *msg)
{
    sfu_counters.bad_commands++;
    if (c->bad++ % 100 == 0)
        log_warn("bad command (%llu so far): %s", c->bad, why);
    /* Answer when the command says where to. */
    const char *node = msg ? str(msg, "node", ID_MAX) : NULL;
    json_t *tx = msg ? json_object_get(msg, "tx") : NULL;
    if (node && tx) {
        char *txt = json_dumps(tx, JSON_ENCODE_ANY | JSON_COMPACT);
        const char *room = str(msg, "room", ID_MAX), *pid = str(msg, "pid", ID_MAX);
        ev_error(c, node, txt, room ? room : "", pid ? pid : "", strstr(why, "sdp") ? "bad_sdp" : "bad_request", why);
        free(txt);
    }
}

static void do_offer(cmd_t *c, json_t *m, const char *tx, const char *room, const char *pid)
{
    const char *user = str(m, "user", ID_MAX), *node = str(m, "node", ID_MAX);
    json_t *sdp = json_object_get(m, "sdp");
    if (!user || !node) {
        bad(c, "offer: user and node are required strings", m);
        return;
    }
    if (!json_is_string(sdp)) {
        sfu_counters.bad_sdp++;
        ev_error(c, node, tx, room, pid, "bad_sdp", "sdp must be a string");
        return;
    }
    json_t *tracks = json_object_get(m, "tracks");
    sfu_label_t labels[64];
    size_t n = 0;
    if (json_is_object(tracks)) {
        const char *mid;
        json_t *v;
        json_object_foreach(tracks, mid, v)
        {
            const char *label = json_string_value(v);
            if (n < 64 && label && (!strcmp(label, "camera") || !strcmp(label, "mic") || !strcmp(label, "screen")))
                labels[n++] = (sfu_label_t){mid, label};
        }
    }
    sfu_offer(c->sfu, tx, room, pid, user, node, json_string_value(sdp), json_string_length(sdp), labels, n);
}

/* view {room, pid, tiles: [{publisher, width, visible}]}: what the participant's client shows of each
 * publisher's camera (sfu.h sfu_view). At most VIEW_MAX_TILES tiles; a bad tile makes the command bad. */
#define VIEW_MAX_TILES 64
static void do_view(cmd_t *c, json_t *m, const char *room, const char *pid)
{
    json_t *tiles = json_object_get(m, "tiles");
    if (!json_is_array(tiles) || json_array_size(tiles) > VIEW_MAX_TILES) {
        bad(c, "view: tiles must be an array of at most 64", m);
        return;
    }
    sfu_tile_t t[VIEW_MAX_TILES];
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(tiles, i, v)
    {
        const char *publisher = str(v, "publisher", ID_MAX);
        json_t *w = json_object_get(v, "width"), *vis = json_object_get(v, "visible");
        if (!publisher || !json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 16384 ||
            !json_is_boolean(vis)) {
            bad(c, "view: each tile needs publisher, width (0-16384) and visible", m);
            return;
        }
        t[n++] = (sfu_tile_t){publisher, (unsigned)json_integer_value(w), json_is_true(vis)};
    }
    sfu_view(c->sfu, room, pid, t, n);
}

/* A recording's name becomes a directory: 1–64 of [A-Za-z0-9_-], nothing a path could climb with. */
static int name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return 0;
    }
    return 1;
}

static void do_record(cmd_t *c, json_t *m, const char *op, const char *tx, const char *room)
{
    const char *node = str(m, "node", ID_MAX);
    if (!node || !tx) {
        bad(c, "record: node and tx are required", m);
        return;
    }
    if (!strcmp(op, "record.stop")) {
        sfu_record_stop(c->sfu, tx, room, node);
        return;
    }
    const char *name = str(m, "name", 64);
    json_t *list = json_object_get(m, "pids");
    const char *pids[64];
    size_t n = 0, i;
    json_t *v;
    if (!name_ok(name)) {
        bad(c, "record.start: name must be 1-64 of [A-Za-z0-9_-]", m);
        return;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > 64) {
        bad(c, "record.start: pids must be an array of 1-64 participants", m);
        return;
    }
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) > ID_MAX) {
            bad(c, "record.start: pids must be strings", m);
            return;
        }
        pids[n++] = json_string_value(v);
    }
    sfu_record_start(c->sfu, tx, room, node, name, pids, n);
}

void cmd_handle(cmd_t *c, const char *payload, size_t len)
{
    sfu_counters.commands++;
    if (len > CMD_MAX_BYTES) {
        bad(c, "command too large", NULL);
        return;
    }
    json_error_t jerr;
    json_t *m = json_loadb(payload, len, 0, &jerr);
    if (!json_is_object(m)) {
        bad(c, "not a JSON object", NULL);
        json_decref(m);
        return;
    }
    const char *op = str(m, "op", 32);
    const char *room = str(m, "room", ID_MAX), *pid = str(m, "pid", ID_MAX);
    json_t *txv = json_object_get(m, "tx");
    char *tx = txv ? json_dumps(txv, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (!op) {
        bad(c, "no op", m);
    } else if (!room || !*room) {
        bad(c, "room is a required string", m);
    } else if (!strcmp(op, "close")) {
        sfu_close_room(c->sfu, room);
    } else if (!strcmp(op, "record.start") || !strcmp(op, "record.stop")) {
        do_record(c, m, op, tx, room);
    } else if (!strcmp(op, "record.allow")) {
        if (!pid || !*pid)
            bad(c, "record.allow: pid is a required string", m);
        else
            sfu_record_allow(c->sfu, room, pid);
    } else if (!pid || !*pid) {
        bad(c, "pid is a required string", m);
    } else if (!strcmp(op, "offer")) {
        if (!tx)
            bad(c, "offer: tx is required", m);
        else
            do_offer(c, m, tx, room, pid);
    } else if (!strcmp(op, "answer")) {
        json_t *sdp = json_object_get(m, "sdp");
        if (!json_is_string(sdp) || !tx)
            bad(c, "answer: sdp (string) and tx are required", m);
        else
            sfu_answer(c->sfu, tx, room, pid, str(m, "node", ID_MAX), json_string_value(sdp), json_string_length(sdp));
    } else if (!strcmp(op, "candidate")) {
        const char *cand = str(m, "candidate", 1024), *mid = str(m, "mid", 64);
        if (!cand) {
            sfu_counters.bad_candidates++;
            bad(c, "candidate: candidate is a required string", m);
        } else {
            sfu_candidate(c->sfu, room, pid, mid ? mid : "", cand);
        }
    } else if (!strcmp(op, "leave")) {
        sfu_leave(c->sfu, room, pid);
    } else if (!strcmp(op, "view")) {
        do_view(c, m, room, pid);
    } else {
        bad(c, "unknown op", m);
    }
    free(tx);
    json_decref(m);
}
