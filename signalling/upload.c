/* upload.c — see upload.h. */
#include "upload.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byterange.h"
#include "config.h"
#include "feature.h"
#include "log.h"
#include "media.h"
#include "pg.h"
#include "docprobe.h"
#include "probe.h"

/* A chunk goes to disk in writes of about this size (pieces from the socket are 4 KiB). */
#define WRITE_AT (1 << 20)
/* The JSON body of POST /media/uploads. */
#define CREATE_BODY_MAX 4096
/* The sweeper runs this often at most (and at least every upload-expiry / 4). */
#define SWEEP_MAX_MS 60000

static uv_loop_t *loop;
static uv_timer_t sweeper;
static int sweeper_on;

/* One request under /media/uploads, from the route call to its answer. */
typedef struct up {
    ws_http_req_t *req;
    int kind;                       /* K_CREATE, K_CHUNK, K_STATUS, K_CANCEL */
    int doc;                        /* the upload is a document (media kind 'file'), not a clip */
    int head;                       /* K_STATUS by HEAD */
    char key[80];                   /* the session key */
    char uid[FEATURE_ID_LEN + 1];
    char id[FEATURE_ID_LEN + 1];
    /* K_CREATE: the JSON body */
    char *body;
    size_t body_len;
    char *title;
    long long size;
    /* K_CHUNK */
    uint64_t first, last, complete; /* Content-Range */
    uint64_t declared;              /* the upload's size */
    uint64_t written;               /* bytes of this chunk on disk */
    int fd;
    char *wbuf, *pbuf;              /* being written / arriving */
    size_t wlen, plen, pcap;
    int writing, ended, aborted, failed, validated;
    uv_fs_t fs;
    struct up *next;                /* in `busy` while it holds the upload */
} up_t;

enum { K_CREATE, K_CHUNK, K_STATUS, K_CANCEL };

/* Uploads with a chunk in progress on this node. */
static up_t *busy;

static int busy_has(const char *id)
{
    for (up_t *u = busy; u; u = u->next)
        if (strcmp(u->id, id) == 0)
            return 1;
    return 0;
}

static void busy_remove(up_t *u)
{
    for (up_t **p = &busy; *p; p = &(*p)->next)
        if (*p == u) {
            *p = u->next;
            return;
        }
}

static void up_free(up_t *u)
{
    busy_remove(u);
    free(u->body);
    free(u->title);
    free(u->wbuf);
    free(u->pbuf);
    free(u);
}

/* Answers and frees u (its request, if still there, is freed by the answer). */
/* Answers and frees u (its request, if the client is gone, is freed by the answer). Pieces of the body
 * that lws still delivers after the answer are dropped by ws.c from here on. */
static void up_error(up_t *u, int status, const char *code, const char *message)
{
    ws_http_on_body(u->req, NULL, NULL);
    media_http_error(u->req, status, code, message);
    up_free(u);
}

static void up_json(up_t *u, int status, json_t *body)
{
    ws_http_on_body(u->req, NULL, NULL);
    media_http_json(u->req, status, body);
    up_free(u);
}

/* ---------------- POST /media/uploads ---------------- */

static const char CREATE_SQL[] =
    "WITH q AS (SELECT coalesce(sum(bytes), 0) AS used FROM media WHERE owner = $2 AND kind IN ('clip', 'file')),"
    " m AS (INSERT INTO media (id, owner, kind, title, bytes, path, state)"
    "  SELECT $1, $2, $7, $3, $4::bigint, $1 || '.media', 'uploading' FROM q WHERE q.used + $4::bigint <= $5::bigint"
    "  RETURNING id),"
    " u AS (INSERT INTO media_uploads (media_id, declared, expires_at)"
    "  SELECT id, $4::bigint, now() + make_interval(secs => $6::int) FROM m RETURNING media_id)"
    " SELECT (SELECT used FROM q), (SELECT count(*) FROM u)";

static void created(const pg_result_t *res, void *priv)
{
    up_t *u = priv;
    if (!res || pg_ntuples(res) != 1) {
        up_error(u, 503, "unavailable", "clips are not available right now; try again");
        return;
    }
    if (strcmp(pg_value(res, 0, 1), "1") != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "your clips and documents use %s of %lld bytes: delete some first", pg_value(res, 0, 0),
                 config_get()->user_quota_bytes);
        up_error(u, 507, "quota_exceeded", msg);
        return;
    }
    up_json(u, 201, json_pack("{s:s,s:i,s:I}", "id", u->id, "offset", 0, "size", (json_int_t)u->size));
}

static void create_signed_in(up_t *u)
{
    char size[24], quota[24], expiry[24];
    snprintf(size, sizeof size, "%lld", u->size);
    snprintf(quota, sizeof quota, "%lld", config_get()->user_quota_bytes);
    snprintf(expiry, sizeof expiry, "%lld", config_get()->upload_expiry);
    if (feature_id_new(u->id) < 0) {
        up_error(u, 500, "internal", "no random source");
        return;
    }
    const char *params[] = {u->id, u->uid, u->title, size, quota, expiry, u->doc ? "file" : "clip"};
    pg_query(CREATE_SQL, 7, params, created, u);
}

/* The body {"title","size","kind"?} into u; 0, or answers 400/413 and returns -1 (u freed). A document
 * (kind "file") has its own size limit: it is read through whole when it is checked. */
static int create_parse(up_t *u)
{
    json_t *o = u->body ? json_loadb(u->body, u->body_len, 0, NULL) : NULL;
    const char *title = json_string_value(json_object_get(o, "title"));
    json_t *size = json_object_get(o, "size"), *kind = json_object_get(o, "kind");
    const char *k = kind ? json_string_value(kind) : "clip";
    u->doc = k && strcmp(k, "file") == 0;
    long long max = u->doc ? config_get()->file_max_bytes : config_get()->upload_max_bytes;
    int rc = -1;
    if (!json_is_object(o))
        up_error(u, 400, "bad_request", "the body must be JSON: {\"title\":…,\"size\":bytes}");
    else if (!title || !*title || strlen(title) > MEDIA_TITLE_MAX)
        up_error(u, 400, "bad_request", "title: 1 to 200 bytes of text");
    else if (!k || (!u->doc && strcmp(k, "clip") != 0))
        up_error(u, 400, "bad_request", "kind: \"clip\" (a video, the default) or \"file\" (a document)");
    else if (!json_is_integer(size) || json_integer_value(size) < 1)
        up_error(u, 400, "bad_request", "size: the file's size in bytes");
    else if (json_integer_value(size) > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "the %s is larger than the %lld bytes this server takes", u->doc ? "document" : "clip", max);
        up_error(u, 413, "too_large", msg);
    } else if (!(u->title = strdup(title))) {
        up_error(u, 500, "internal", "out of memory");
    } else {
        u->size = json_integer_value(size);
        rc = 0;
    }
    json_decref(o);
    return rc;
}

/* ---------------- sign-in, then what each kind does ---------------- */

static void chunk_signed_in(up_t *u);
static void status_signed_in(up_t *u);
static void cancel_signed_in(up_t *u);

static void signed_in(const char *uid, int unavailable, void *priv)
{
    up_t *u = priv;
    if (!uid) {
        if (unavailable)
            up_error(u, 503, "unavailable", "the server cannot check sign-ins right now; try again");
        else
            up_error(u, 401, "unauthorized", "sign in again: the session token is unknown or expired");
        return;
    }
    snprintf(u->uid, sizeof u->uid, "%s", uid);
    if (u->aborted) {
        up_error(u, 400, "broken_upload", "the connection broke");
        return;
    }
    switch (u->kind) {
    case K_CREATE: create_signed_in(u); break;
    case K_CHUNK: chunk_signed_in(u); break;
    case K_STATUS: status_signed_in(u); break;
    default: cancel_signed_in(u); break;
    }
}

static void create_body(ws_http_req_t *req, ws_body_event_t ev, const char *data, size_t len, void *priv)
{
    (void)req;
    up_t *u = priv;
    if (ev == WS_BODY_ABORT) {
        up_error(u, 400, "broken_upload", "the request ended early");
        return;
    }
    if (ev == WS_BODY_DATA) {
        if (u->body_len + len > CREATE_BODY_MAX) {
            /* answered now; ws.c closes the connection once written, and the rest is dropped */
            up_error(u, 413, "too_large", "the request body is larger than 4 KiB");
            return;
        }
        char *b = realloc(u->body, u->body_len + len);
        if (!b) {
            up_error(u, 500, "internal", "out of memory");
            return;
        }
        memcpy(b + u->body_len, data, len);
        u->body = b;
        u->body_len += len;
        return;
    }
    if (create_parse(u) == 0)
        media_session(u->key, signed_in, u);
}

/* ---------------- PUT /media/uploads/<id>: a chunk ---------------- */

static const char UPLOAD_SQL[] =
    "SELECT u.declared, m.kind = 'file' FROM media m JOIN media_uploads u ON u.media_id = m.id"
    " WHERE m.id = $1 AND m.owner = $2 AND m.state = 'uploading'";

static void chunk_flush(up_t *u);
static void chunk_finish(up_t *u);

/* The chunk is over (all written, failed or aborted) once no write is in flight: close and answer. */
static void chunk_closed(uv_fs_t *fs)
{
    up_t *u = fs->data;
    uv_fs_req_cleanup(fs);
    u->fd = -1;
    chunk_finish(u);
}

static void chunk_close(up_t *u)
{
    u->fs.data = u;
    if (u->fd < 0 || uv_fs_close(loop, &u->fs, u->fd, chunk_closed) < 0) {
        u->fd = -1;
        chunk_finish(u);
    }
}

static void chunk_written(uv_fs_t *fs)
{
    up_t *u = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    u->writing = 0;
    if (n < 0 || (size_t)n != u->wlen) {
        log_warn("media: writing upload %s failed: %s", u->id, n < 0 ? uv_strerror((int)n) : "short write");
        u->failed = 1;
    } else {
        u->written += (uint64_t)n;
    }
    u->wlen = 0;
    if (u->failed || u->aborted) {
        chunk_close(u);
        return;
    }
    chunk_flush(u);
}

/* Writes what has arrived if it is enough (or the body ended); pauses the socket while the disk is behind. */
static void chunk_flush(up_t *u)
{
    if (u->writing || !u->validated)
        return;
    if (u->plen == 0 || (u->plen < WRITE_AT && !u->ended)) {
        if (u->ended && u->plen == 0)
            chunk_close(u);
        else if (!u->aborted)
            ws_http_pause_body(u->req, 0);
        return;
    }
    /* swap: what arrived goes to disk, the other buffer takes what comes meanwhile */
    char *b = u->wbuf;
    size_t cap = u->pcap;
    u->wbuf = u->pbuf;
    u->wlen = u->plen;
    u->pbuf = b;
    u->plen = 0;
    if (!u->pbuf && !(u->pbuf = malloc(cap))) {
        u->failed = 1;
        chunk_close(u);
        return;
    }
    uv_buf_t buf = uv_buf_init(u->wbuf, (unsigned)u->wlen);
    u->fs.data = u;
    if (uv_fs_write(loop, &u->fs, u->fd, &buf, 1, (int64_t)(u->first + u->written), chunk_written) < 0) {
        u->failed = 1;
        chunk_close(u);
        return;
    }
    u->writing = 1;
    if (!u->ended)
        ws_http_pause_body(u->req, 1);
}

static void chunk_body(ws_http_req_t *req, ws_body_event_t ev, const char *data, size_t len, void *priv)
{
    (void)req;
    up_t *u = priv;
    if (ev == WS_BODY_ABORT) {
        /* The connection broke: what is on disk stays (HEAD tells the client where to resume). */
        u->aborted = 1; /* before validation, the step in flight sees it and answers */
        if (u->validated && !u->writing)
            chunk_close(u);
        return;
    }
    if (ev == WS_BODY_END) {
        u->ended = 1;
        chunk_flush(u);
        return;
    }
    if (u->failed || u->aborted)
        return;
    if (u->written + u->wlen + u->plen + len > u->last - u->first + 1) {
        u->failed = 1; /* more than Content-Range said: the chunk is refused at its end */
        return;
    }
    if (u->plen + len > u->pcap) {
        size_t cap = u->pcap ? u->pcap : WRITE_AT + 65536;
        while (cap < u->plen + len)
            cap *= 2;
        char *b = realloc(u->pbuf, cap);
        if (!b) {
            u->failed = 1;
            return;
        }
        u->pbuf = b;
        u->pcap = cap;
    }
    memcpy(u->pbuf + u->plen, data, len);
    u->plen += len;
    if (u->plen >= WRITE_AT)
        chunk_flush(u);
}

static void chunk_opened(uv_fs_t *fs)
{
    up_t *u = fs->data;
    int fd = (int)fs->result;
    uv_fs_req_cleanup(fs);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) { /* fstat of an open file: no disk wait */
        if (fd >= 0)
            close(fd);
        log_warn("media: cannot open upload %s: %s", u->id, fd < 0 ? uv_strerror(fd) : "fstat");
        up_error(u, 500, "internal", "cannot store the chunk");
        return;
    }
    u->fd = fd;
    if (u->aborted) {
        close(fd);
        u->fd = -1;
        up_error(u, 400, "broken_upload", "the connection broke");
        return;
    }
    if ((uint64_t)st.st_size != u->first) {
        close(fd);
        u->fd = -1;
        char msg[128];
        snprintf(msg, sizeof msg, "the chunk starts at %llu but %llu bytes are stored: resume from there",
                 (unsigned long long)u->first, (unsigned long long)st.st_size);
        up_json(u, 409, json_pack("{s:s,s:s,s:I}", "code", "wrong_offset", "message", msg, "offset",
                                  (json_int_t)st.st_size));
        return;
    }
    u->validated = 1;
    chunk_flush(u); /* what arrived while we checked */
}

static void chunk_found(const pg_result_t *res, void *priv)
{
    up_t *u = priv;
    if (u->aborted) {
        up_error(u, 400, "broken_upload", "the connection broke");
        return;
    }
    if (!res) {
        up_error(u, 503, "unavailable", "clips are not available right now; try again");
        return;
    }
    if (pg_ntuples(res) != 1) {
        up_error(u, 404, "not_found", "no such upload (finished, expired or never made)");
        return;
    }
    u->declared = strtoull(pg_value(res, 0, 0), NULL, 10);
    u->doc = pg_value(res, 0, 1)[0] == 't';
    if (u->complete != u->declared || u->last >= u->declared) {
        up_error(u, 400, "bad_range", "Content-Range must end within the size declared when the upload was made");
        return;
    }
    if (busy_has(u->id)) {
        up_error(u, 409, "busy", "another chunk of this upload is being stored");
        return;
    }
    u->next = busy;
    busy = u;
    char path[512];
    u->fs.data = u;
    if (media_file_path(u->id, 1, path, sizeof path) < 0 ||
        uv_fs_open(loop, &u->fs, path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640, chunk_opened) < 0)
        up_error(u, 500, "internal", "cannot store the chunk");
}

static void chunk_signed_in(up_t *u)
{
    const char *params[] = {u->id, u->uid};
    pg_query(UPLOAD_SQL, 2, params, chunk_found, u);
}

/* ---------------- the last chunk: probe, then ready or refused ---------------- */

static const char TOUCH_SQL[] =
    "UPDATE media_uploads SET expires_at = now() + make_interval(secs => $2::int) WHERE media_id = $1";
static const char PROCESSING_SQL[] = "UPDATE media SET state = 'processing' WHERE id = $1 AND state = 'uploading'";
static const char READY_SQL[] =
    "WITH d AS (DELETE FROM media_uploads WHERE media_id = $1)"
    " UPDATE media m SET state = 'ready', mime = $2, duration_ms = $3::int, meta = $4::jsonb, bytes = $5::bigint"
    " WHERE m.id = $1 RETURNING " MEDIA_COLUMNS;
static const char DROP_SQL[] = "DELETE FROM media WHERE id = $1";

static void probed(const probe_result_t *p, void *priv);
static void docprobed(const docprobe_result_t *p, void *priv);

static void ready(const pg_result_t *res, void *priv)
{
    up_t *u = priv;
    if (!res || pg_ntuples(res) != 1) {
        up_error(u, 503, "unavailable", "the clip was stored but could not be recorded; upload it again");
        return;
    }
    up_json(u, 200, json_pack("{s:o}", "media", media_row_json(res, 0, 0)));
}

static void renamed(uv_fs_t *fs)
{
    up_t *u = fs->data;
    int rc = (int)fs->result;
    uv_fs_req_cleanup(fs);
    char path[512];
    if (rc < 0 || media_file_path(u->id, 0, path, sizeof path) < 0 ||
        (u->doc ? docprobe_start(loop, path, docprobed, u) : probe_start(loop, path, probed, u)) < 0) {
        log_warn("media: cannot probe %s: %s", u->id, rc < 0 ? uv_strerror(rc) : "no job");
        pg_query(DROP_SQL, 1, (const char *[]){u->id}, NULL, NULL);
        media_unlink_file(u->id, 1);
        up_error(u, 500, "internal", "the clip could not be checked; upload it again");
    }
}

static void processing(const pg_result_t *res, void *priv)
{
    up_t *u = priv;
    if (!res || pg_affected(res) != 1) {
        up_error(u, res ? 404 : 503, res ? "not_found" : "unavailable",
                 res ? "no such upload (finished or expired)" : "clips are not available right now; try again");
        return;
    }
    char from[512], to[512];
    u->fs.data = u;
    if (media_file_path(u->id, 1, from, sizeof from) < 0 || media_file_path(u->id, 0, to, sizeof to) < 0 ||
        uv_fs_rename(loop, &u->fs, from, to, renamed) < 0) {
        up_error(u, 500, "internal", "cannot finish the upload");
    }
}

static void probed(const probe_result_t *p, void *priv)
{
    up_t *u = priv;
    if (!p->ok) {
        pg_query(DROP_SQL, 1, (const char *[]){u->id}, NULL, NULL);
        media_unlink_file(u->id, 0);
        up_error(u, strcmp(p->code, "not_video") == 0 ? 415 : 422, p->code, p->message);
        return;
    }
    json_t *meta = json_pack("{s:s,s:s,s:s,s:i,s:i}", "container", p->container, "video", p->vcodec, "audio",
                             p->acodec, "width", p->width, "height", p->height);
    char *metatext = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    char dur[24], bytes[24];
    snprintf(dur, sizeof dur, "%lld", (long long)p->duration_ms);
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)u->declared);
    const char *params[] = {u->id, p->mime, dur, metatext ? metatext : "{}", bytes};
    pg_query(READY_SQL, 5, params, ready, u);
    free(metatext);
}

/* A document checked (docprobe.h): ready with its type from the content, or deleted and refused. */
static void docprobed(const docprobe_result_t *p, void *priv)
{
    up_t *u = priv;
    if (!p->ok) {
        pg_query(DROP_SQL, 1, (const char *[]){u->id}, NULL, NULL);
        media_unlink_file(u->id, 0);
        up_error(u, strcmp(p->code, "wrong_type") == 0 ? 415 : 422, p->code, p->message);
        return;
    }
    json_t *meta = json_pack("{s:s}", "format", p->ext);
    char *metatext = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    char bytes[24];
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)u->declared);
    const char *params[] = {u->id, p->mime, NULL, metatext ? metatext : "{}", bytes};
    pg_query(READY_SQL, 5, params, ready, u);
    free(metatext);
}

static void chunk_finish(up_t *u)
{
    busy_remove(u);
    uint64_t want = u->last - u->first + 1;
    if (u->aborted) {
        up_error(u, 400, "broken_upload", "the connection broke; resume from the stored offset");
        return;
    }
    if (u->failed || u->written != want) {
        up_error(u, 400, "broken_upload", "the chunk was not stored whole; ask for the stored offset (HEAD) and resume");
        return;
    }
    char expiry[24];
    snprintf(expiry, sizeof expiry, "%lld", config_get()->upload_expiry);
    pg_query(TOUCH_SQL, 2, (const char *[]){u->id, expiry}, NULL, NULL);
    if (u->last + 1 < u->declared) {
        up_json(u, 200, json_pack("{s:s,s:I,s:I}", "id", u->id, "offset", (json_int_t)(u->last + 1), "size",
                                  (json_int_t)u->declared));
        return;
    }
    pg_query(PROCESSING_SQL, 1, (const char *[]){u->id}, processing, u);
}

/* ---------------- HEAD/GET (where to resume) and DELETE ---------------- */

static void status_stat(uv_fs_t *fs)
{
    up_t *u = fs->data;
    uint64_t have = fs->result == 0 ? (uint64_t)fs->statbuf.st_size : 0;
    uv_fs_req_cleanup(fs);
    char off[24], len[24];
    snprintf(off, sizeof off, "%llu", (unsigned long long)have);
    snprintf(len, sizeof len, "%llu", (unsigned long long)u->declared);
    ws_http_add_header(u->req, "Upload-Offset", off);
    ws_http_add_header(u->req, "Upload-Length", len);
    if (u->head) {
        ws_http_answer(u->req, 200, "application/json", "", 0);
        up_free(u);
        return;
    }
    up_json(u, 200, json_pack("{s:s,s:I,s:I}", "id", u->id, "offset", (json_int_t)have, "size", (json_int_t)u->declared));
}

static void status_found(const pg_result_t *res, void *priv)
{
    up_t *u = priv;
    if (!res || pg_ntuples(res) != 1) {
        up_error(u, res ? 404 : 503, res ? "not_found" : "unavailable",
                 res ? "no such upload (finished, expired or never made)" : "clips are not available right now");
        return;
    }
    u->declared = strtoull(pg_value(res, 0, 0), NULL, 10);
    char path[512];
    u->fs.data = u;
    if (media_file_path(u->id, 1, path, sizeof path) < 0 || uv_fs_stat(loop, &u->fs, path, status_stat) < 0)
        up_error(u, 500, "internal", "cannot read the upload");
}

static void status_signed_in(up_t *u)
{
    const char *params[] = {u->id, u->uid};
    pg_query(UPLOAD_SQL, 2, params, status_found, u);
}

static const char CANCEL_SQL[] = "DELETE FROM media WHERE id = $1 AND owner = $2 AND state = 'uploading'";

static void cancelled(const pg_result_t *res, void *priv)
{
    up_t *u = priv;
    if (!res || pg_affected(res) != 1) {
        up_error(u, res ? 404 : 503, res ? "not_found" : "unavailable",
                 res ? "no such upload (finished, expired or never made)" : "clips are not available right now");
        return;
    }
    media_unlink_file(u->id, 1);
    up_json(u, 200, json_object());
}

static void cancel_signed_in(up_t *u)
{
    if (busy_has(u->id)) {
        up_error(u, 409, "busy", "a chunk of this upload is being stored");
        return;
    }
    const char *params[] = {u->id, u->uid};
    pg_query(CANCEL_SQL, 2, params, cancelled, u);
}

/* ---------------- the route ---------------- */

void upload_route(ws_http_req_t *req, const char *rest)
{
    const char *method = ws_http_method(req);
    up_t *u = calloc(1, sizeof *u);
    if (!u) {
        media_http_error(req, 500, "internal", "out of memory");
        return;
    }
    u->req = req;
    u->fd = -1;
    if (!pg_configured()) {
        up_error(u, 503, "unavailable", "clips need PostgreSQL, which this server does not have");
        return;
    }
    if (rest[0] == '\0' && strcmp(method, "POST") == 0) {
        u->kind = K_CREATE;
    } else if (rest[0] == '/' && feature_id_valid(rest + 1)) {
        snprintf(u->id, sizeof u->id, "%s", rest + 1);
        if (strcmp(method, "PUT") == 0) {
            u->kind = K_CHUNK;
        } else if (strcmp(method, "HEAD") == 0 || strcmp(method, "GET") == 0) {
            u->kind = K_STATUS;
            u->head = strcmp(method, "HEAD") == 0;
        } else if (strcmp(method, "DELETE") == 0) {
            u->kind = K_CANCEL;
        } else {
            up_error(u, 405, "bad_request", "an upload takes PUT (a chunk), HEAD or GET (its offset), DELETE");
            return;
        }
    } else {
        up_error(u, rest[0] ? 404 : 405, rest[0] ? "not_found" : "bad_request",
                 rest[0] ? "no such upload" : "make an upload with POST");
        return;
    }
    if (media_bearer_key(req, u->key) < 0) {
        up_error(u, 401, "unauthorized", "send the session token as Authorization: Bearer <token>");
        return;
    }
    if (u->kind == K_CREATE) {
        ws_http_on_body(req, create_body, u);
        return;
    }
    if (u->kind == K_CHUNK) {
        char cr[128], cl[24];
        if (ws_http_header(req, "content-range", cr, sizeof cr) <= 0 ||
            byterange_content_range(cr, &u->first, &u->last, &u->complete) < 0 || u->complete == UINT64_MAX) {
            up_error(u, 400, "bad_range", "a chunk needs Content-Range: bytes first-last/size");
            return;
        }
        if (ws_http_header(req, "content-length", cl, sizeof cl) <= 0 ||
            strtoull(cl, NULL, 10) != u->last - u->first + 1) {
            up_error(u, 400, "bad_range", "Content-Length must be the length of the Content-Range");
            return;
        }
        /* the body waits (a piece or two may still come) until the upload and its offset are checked */
        ws_http_on_body(req, chunk_body, u);
        ws_http_pause_body(req, 1);
    }
    media_session(u->key, signed_in, u);
}

/* ---------------- the sweeper of abandoned uploads ---------------- */

static const char SWEEP_SQL[] =
    "DELETE FROM media m USING media_uploads u WHERE u.media_id = m.id AND u.expires_at < now()"
    " AND m.state = 'uploading' RETURNING m.id";

static void swept(const pg_result_t *res, void *priv)
{
    (void)priv;
    for (int i = 0; res && i < pg_ntuples(res); i++) {
        log_info("media: upload %s expired", pg_value(res, i, 0));
        media_unlink_file(pg_value(res, i, 0), 1);
    }
}

static void sweep(uv_timer_t *t)
{
    (void)t;
    if (pg_is_up())
        pg_query(SWEEP_SQL, 0, NULL, swept, NULL);
}

int upload_start(uv_loop_t *l)
{
    loop = l;
    if (!pg_configured())
        return 0;
    long long every = config_get()->upload_expiry * 1000 / 4;
    if (every > SWEEP_MAX_MS)
        every = SWEEP_MAX_MS;
    uv_timer_init(l, &sweeper);
    uv_timer_start(&sweeper, sweep, (uint64_t)every, (uint64_t)every);
    uv_unref((uv_handle_t *)&sweeper);
    sweeper_on = 1;
    return 0;
}

void upload_stop(void)
{
    if (sweeper_on) {
        uv_timer_stop(&sweeper);
        uv_close((uv_handle_t *)&sweeper, NULL);
        sweeper_on = 0;
    }
}
