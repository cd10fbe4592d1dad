/* media.c — see media.h. */
#include "media.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts.h"
#include "byterange.h"
#include "config.h"
#include "feature.h"
#include "log.h"
#include "media_acl.h"
#include "pg.h"
#include "store.h"
#include "upload.h"

static uv_loop_t *loop;

/* ---------------- helpers shared with upload.c and comments.c ---------------- */

int media_bearer_key(ws_http_req_t *req, char key[80])
{
    char auth[160];
    if (ws_http_header(req, "authorization", auth, sizeof auth) <= 7 || strncmp(auth, "Bearer ", 7) != 0)
        return -1;
    int rc = accounts_session_key(auth + 7, key);
    sodium_memzero(auth, sizeof auth);
    return rc;
}

typedef struct {
    media_user_cb cb;
    void *priv;
} session_t;

static void session_done(const store_reply_t *rep, void *priv)
{
    session_t *s = priv;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, NULL) : NULL;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    const char *uid = json_string_value(json_object_get(o, "user"));
    s->cb(uid && feature_id_valid(uid) ? uid : NULL, rep == NULL, s->priv);
    json_decref(o);
    free(s);
}

void media_session(const char *key, media_user_cb cb, void *priv)
{
    session_t *s = malloc(sizeof *s);
    if (!s) {
        cb(NULL, 1, priv); /* out of memory: as if Redis were down */
        return;
    }
    *s = (session_t){cb, priv};
    const char *args[] = {key};
    store_fcall("media_session", session_done, s, 1, 0, args);
}

typedef struct {
    media_scope_cb cb;
    void *priv;
} scope_t;

static void scope_done(const store_reply_t *rep, void *priv)
{
    scope_t *s = priv;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, NULL) : NULL;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    const json_t *circles = json_object_get(o, "circles");
    char *lit = json_is_array(circles) ? feature_ids_pg_array(circles, NULL, NULL) : NULL;
    s->cb(lit, s->priv);
    free(lit);
    json_decref(o);
    free(s);
}

void media_scope(const char *uid, media_scope_cb cb, void *priv)
{
    scope_t *s = malloc(sizeof *s);
    if (!s) {
        cb(NULL, priv);
        return;
    }
    *s = (scope_t){cb, priv};
    const char *args[] = {uid};
    store_fcall("media_circles", scope_done, s, 0, 1, args);
}

void media_http_json(ws_http_req_t *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        ws_http_answer(req, 500, "application/json", "{\"code\":\"internal\",\"message\":\"out of memory\"}", 46);
        return;
    }
    ws_http_answer(req, status, "application/json", text, strlen(text));
    free(text);
}

void media_http_error(ws_http_req_t *req, int status, const char *code, const char *message)
{
    media_http_json(req, status, json_pack("{s:s,s:s}", "code", code, "message", message));
}

/* 1 if rel (a media row's path) is a plain relative path inside media-dir: no "..", not absolute, no
 * control characters. A row written by another module (recordings) is still only served from there. */
static int rel_path_ok(const char *rel)
{
    if (!rel || !*rel || rel[0] == '/' || strlen(rel) > 255)
        return 0;
    for (const char *p = rel; *p; p++)
        if ((unsigned char)*p < 0x20 || (p[0] == '.' && p[1] == '.'))
            return 0;
    return 1;
}

int media_rel_path(const char *rel, char *out, size_t cap)
{
    if (!rel_path_ok(rel))
        return -1;
    int n = snprintf(out, cap, "%s/%s", config_get()->media_dir, rel);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int media_file_path(const char *id, int partial, char *out, size_t cap)
{
    if (!feature_id_valid(id))
        return -1;
    int n = snprintf(out, cap, "%s/%s%s", config_get()->media_dir, id, partial ? ".part" : ".media");
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static long long num(const pg_result_t *res, int row, int col)
{
    const char *v = pg_value(res, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

json_t *media_row_json(const pg_result_t *res, int row, int col)
{
    const char *meta = pg_value(res, row, col + 7);
    json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:o,s:I}", "id", pg_value(res, row, col),
                          "owner", pg_value(res, row, col + 1), "kind", pg_value(res, row, col + 2),
                          "title", pg_value(res, row, col + 3) ? pg_value(res, row, col + 3) : "",
                          "mime", pg_value(res, row, col + 4) ? pg_value(res, row, col + 4) : "",
                          "bytes", (json_int_t)num(res, row, col + 5), "meta", json_is_object(m) ? m : json_object(),
                          "created_at", (json_int_t)num(res, row, col + 8));
    if (!json_is_object(m))
        json_decref(m);
    if (o && pg_value(res, row, col + 6))
        json_object_set_new(o, "duration_ms", json_integer(num(res, row, col + 6)));
    return o;
}

/* ---------------- media tokens ---------------- *
 * "<expiry unix seconds>.<user id>.<32 hex of HMAC-SHA256(key, item|user|expiry)>": a <video src> carries
 * it, so it names the user it was made for and ends soon; the file route still checks that this user
 * may view the item now (a share taken back, a member who left: 404 at the next request). */

#define TOKEN_MAC_BYTES 16
static unsigned char token_key[crypto_auth_hmacsha256_KEYBYTES];
static int have_key;

typedef void (*key_cb)(int ok, void *priv);
typedef struct {
    key_cb cb;
    void *priv;
} keyload_t;

static void key_loaded(const store_reply_t *rep, void *priv)
{
    keyload_t *k = priv;
    size_t len = 0, n = 0;
    const char *hex = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, &len) : NULL;
    if (hex && len == 2 * sizeof token_key &&
        sodium_hex2bin(token_key, sizeof token_key, hex, len, NULL, &n, NULL) == 0 && n == sizeof token_key)
        have_key = 1;
    k->cb(have_key, k->priv);
    free(k);
}

/* cb(1) once the community's key is known (at once if it is), cb(0) if Redis cannot give it now. */
static void with_key(key_cb cb, void *priv)
{
    if (have_key) {
        cb(1, priv);
        return;
    }
    keyload_t *k = malloc(sizeof *k);
    if (!k) {
        cb(0, priv);
        return;
    }
    *k = (keyload_t){cb, priv};
    unsigned char fresh[sizeof token_key];
    char hex[2 * sizeof fresh + 1];
    randombytes_buf(fresh, sizeof fresh);
    sodium_bin2hex(hex, sizeof hex, fresh, sizeof fresh);
    const char *args[] = {"media:token-key", hex};
    store_fcall("media_token_key", key_loaded, k, 1, 1, args);
    sodium_memzero(fresh, sizeof fresh);
}

static void token_mac(const char *id, const char *uid, long long exp, char hex[2 * TOKEN_MAC_BYTES + 1])
{
    char msg[128];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    int n = snprintf(msg, sizeof msg, "%s|%s|%lld", id, uid, exp);
    crypto_auth_hmacsha256(mac, (const unsigned char *)msg, (unsigned long long)n, token_key);
    sodium_bin2hex(hex, 2 * TOKEN_MAC_BYTES + 1, mac, TOKEN_MAC_BYTES);
}

/* A token for uid to fetch item id (have_key must be 1): writes it into out. */
static void token_make(const char *id, const char *uid, char out[128])
{
    long long exp = (long long)time(NULL) + config_get()->media_token_ttl;
    char mac[2 * TOKEN_MAC_BYTES + 1];
    token_mac(id, uid, exp, mac);
    snprintf(out, 128, "%lld.%s.%s", exp, uid, mac);
}

/* The user a token (borrowed) for item id was made for, into uid; 0, or -1 if forged, for another item
 * or expired. */
static int token_check(const char *token, const char *id, char uid[FEATURE_ID_LEN + 1])
{
    char *end;
    long long exp = strtoll(token, &end, 10);
    if (end == token || *end != '.' || strlen(end + 1) != FEATURE_ID_LEN + 1 + 2 * TOKEN_MAC_BYTES ||
        end[1 + FEATURE_ID_LEN] != '.' || exp < (long long)time(NULL))
        return -1;
    memcpy(uid, end + 1, FEATURE_ID_LEN);
    uid[FEATURE_ID_LEN] = '\0';
    if (!feature_id_valid(uid))
        return -1;
    char mac[2 * TOKEN_MAC_BYTES + 1];
    token_mac(id, uid, exp, mac);
    return sodium_memcmp(mac, end + 2 + FEATURE_ID_LEN, 2 * TOKEN_MAC_BYTES) == 0 ? 0 : -1;
}

/* ---------------- GET/HEAD /media/<id>/file?t=<token> ---------------- */

static const char VIEW_FILE_SQL[] = "SELECT m.mime, m.path, m.kind, m.title, m.meta->>'format' FROM media m"
                                    " WHERE m.id = $1 AND m.state = 'ready' AND "
                                    MEDIA_CAN_VIEW_SQL("m", "$2", "$3");

typedef struct {
    ws_http_req_t *req;
    char id[FEATURE_ID_LEN + 1];
    char uid[FEATURE_ID_LEN + 1];
    char token[160];
    char range[128];
    char mime[128];
    char disposition[640]; /* documents: Content-Disposition (empty for clips, which play inline) */
    int head;
    uv_fs_t fs;
} fileget_t;

/* Bytes of a title that go into a file name (filename* percent-encodes them: three characters each). */
#define FILENAME_TITLE_MAX 120

/* RFC 8187 attr-char: what filename* may carry without percent-encoding. */
static int attr_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c);
}

/* "attachment; filename=\"<title in safe ASCII>.<ext>\"; filename*=UTF-8''<title, percent-encoded>.<ext>"
 * (RFC 6266 4.3): the browser saves the document under its title, and nothing in a title (quotes, slashes,
 * control characters, a name that hides its extension) reaches the header or the user's disk as is. */
static void disposition(const char *title, const char *ext, char *out, size_t cap)
{
    size_t len = strlen(title);
    if (len > FILENAME_TITLE_MAX) { /* cut on a UTF-8 character boundary */
        len = FILENAME_TITLE_MAX;
        while (len > 0 && ((unsigned char)title[len] & 0xc0) == 0x80)
            len--;
    }
    char ascii[FILENAME_TITLE_MAX + 1], pct[3 * FILENAME_TITLE_MAX + 1];
    size_t a = 0, p = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)title[i];
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(" -_(),", c);
        if (keep)
            ascii[a++] = (char)c;
        else if (a == 0 || ascii[a - 1] != '_')
            ascii[a++] = '_';
        if (attr_char(c) && c != '.')
            pct[p++] = (char)c;
        else
            p += (size_t)snprintf(pct + p, sizeof pct - p, "%%%02X", c);
    }
    ascii[a] = pct[p] = '\0';
    if (a == 0 || strspn(ascii, "_ ") == a)
        snprintf(ascii, sizeof ascii, "document");
    snprintf(out, cap, "attachment; filename=\"%s.%s\"; filename*=UTF-8''%s.%s", ascii, ext, p ? pct : "document", ext);
}

static void fileget_fail(fileget_t *g, int status, const char *code, const char *message)
{
    media_http_error(g->req, status, code, message);
    free(g);
}

static void file_opened(uv_fs_t *fs)
{
    fileget_t *g = fs->data;
    int fd = (int)fs->result;
    uv_fs_req_cleanup(fs);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) { /* fstat of an open file: no disk wait */
        if (fd >= 0)
            close(fd);
        log_warn("media: cannot open the file of %s: %s", g->id, fd < 0 ? uv_strerror(fd) : strerror(errno));
        fileget_fail(g, 404, "not_found", "no such media");
        return;
    }
    if (!S_ISREG(st.st_mode)) { /* a recording's path is a directory of tracks: not one file to serve */
        close(fd);
        fileget_fail(g, 404, "not_found", "this item has no single file to play (a recording: play its tracks)");
        return;
    }
    uint64_t size = (uint64_t)st.st_size, first = 0, last = size ? size - 1 : 0;
    int r = byterange_parse(g->range, size, &first, &last);
    ws_http_add_header(g->req, "Accept-Ranges", "bytes");
    char cr[96];
    if (r == BYTERANGE_UNSATISFIABLE || r == BYTERANGE_BAD) {
        close(fd);
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        ws_http_add_header(g->req, "Content-Range", cr);
        fileget_fail(g, 416, "bad_range", "the range is not within the file");
        return;
    }
    /* Nothing served from here may run on this origin: a document opened in a tab is a sandboxed page
     * (no script, its own opaque origin), and the type is never sniffed (ws.c adds nosniff to all). */
    ws_http_add_header(g->req, "Content-Security-Policy", "sandbox");
    if (g->disposition[0])
        ws_http_add_header(g->req, "Content-Disposition", g->disposition);
    if (r == BYTERANGE_OK) {
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)size);
        ws_http_add_header(g->req, "Content-Range", cr);
        ws_http_answer_file(g->req, 206, g->mime, fd, first, last - first + 1, g->head);
    } else {
        ws_http_answer_file(g->req, 200, g->mime, fd, 0, size, g->head);
    }
    free(g);
}

static void file_row(const pg_result_t *res, void *priv)
{
    fileget_t *g = priv;
    if (!res) {
        fileget_fail(g, 503, "unavailable", "the media store is not available right now; try again");
        return;
    }
    if (pg_ntuples(res) != 1) {
        fileget_fail(g, 404, "not_found", "no such media");
        return;
    }
    snprintf(g->mime, sizeof g->mime, "%s", pg_value(res, 0, 0));
    const char *ext = pg_value(res, 0, 4);
    if (strcmp(pg_value(res, 0, 2), "file") == 0)
        disposition(pg_value(res, 0, 3), ext && *ext ? ext : "bin", g->disposition, sizeof g->disposition);
    char path[512];
    g->fs.data = g;
    if (media_rel_path(pg_value(res, 0, 1), path, sizeof path) < 0) {
        log_warn("media: %s has a path outside media-dir; not served", g->id);
        fileget_fail(g, 404, "not_found", "no such media");
    } else if (uv_fs_open(loop, &g->fs, path, O_RDONLY | O_CLOEXEC, 0, file_opened) < 0) {
        fileget_fail(g, 500, "internal", "cannot open the file");
    }
}

static void file_scoped(const char *circles, void *priv)
{
    fileget_t *g = priv;
    if (!circles) {
        fileget_fail(g, 503, "unavailable", "the server cannot check access right now; try again");
        return;
    }
    const char *params[] = {g->id, g->uid, circles};
    pg_query(VIEW_FILE_SQL, 3, params, file_row, g);
}

static void file_keyed(int ok, void *priv)
{
    fileget_t *g = priv;
    if (!ok) {
        fileget_fail(g, 503, "unavailable", "the server cannot check media links right now; try again");
        return;
    }
    /* A token that is forged, expired or for another item answers like a missing item. */
    if (token_check(g->token, g->id, g->uid) < 0) {
        fileget_fail(g, 404, "not_found", "no such media (or the link expired: reopen the clip)");
        return;
    }
    media_scope(g->uid, file_scoped, g);
}

static void file_route(ws_http_req_t *req, const char *id)
{
    const char *method = ws_http_method(req);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        media_http_error(req, 405, "bad_request", "a media file is read with GET or HEAD");
        return;
    }
    fileget_t *g = calloc(1, sizeof *g);
    if (!g) {
        media_http_error(req, 500, "internal", "out of memory");
        return;
    }
    g->req = req;
    g->head = strcmp(method, "HEAD") == 0;
    snprintf(g->id, sizeof g->id, "%s", id);
    ws_http_header(req, "range", g->range, sizeof g->range);
    if (ws_http_arg(req, "t", g->token, sizeof g->token) < 0) {
        fileget_fail(g, 404, "not_found", "no such media");
        return;
    }
    if (!pg_configured()) {
        fileget_fail(g, 503, "unavailable", "clips need PostgreSQL, which this server does not have");
        return;
    }
    with_key(file_keyed, g);
}

/* /media/uploads… (upload.c) and /media/<id>/file. */
static void media_route(ws_http_req_t *req, void *arg)
{
    (void)arg;
    const char *path = ws_http_path(req);
    if (strncmp(path, "/media/uploads", 14) == 0 && (path[14] == '\0' || path[14] == '/')) {
        upload_route(req, path + 14);
        return;
    }
    char id[FEATURE_ID_LEN + 1];
    if (strlen(path) == 7 + FEATURE_ID_LEN + 5 && strcmp(path + 7 + FEATURE_ID_LEN, "/file") == 0) {
        memcpy(id, path + 7, FEATURE_ID_LEN);
        id[FEATURE_ID_LEN] = '\0';
        if (feature_id_valid(id)) {
            file_route(req, id);
            return;
        }
    }
    media_http_error(req, 404, "not_found", "no such media");
}

/* ---------------- requests: media.list, media.get, media.share, media.unshare, media.delete, media.rename */

typedef struct {
    req_t *r;
    const char *id;     /* borrowed from r */
    char other[FEATURE_ID_LEN + 1]; /* share/unshare: the person */
    char *title;
    json_t *item;       /* media.get: the answer, waiting for its URL */
    int op;
} mreq_t;

enum { OP_GET, OP_SHARE, OP_UNSHARE, OP_DELETE, OP_RENAME };

static void mreq_free(mreq_t *m)
{
    json_decref(m->item);
    free(m->title);
    free(m);
}

static int need_pg(req_t *r)
{
    if (pg_configured())
        return 0;
    req_error(r, E_UNAVAILABLE, "clips need PostgreSQL, which this server does not have");
    return -1;
}

static const char LIST_SQL[] =
    "SELECT " MEDIA_COLUMNS " FROM media m WHERE m.state = 'ready' AND (m.owner = $1 OR EXISTS"
    " (SELECT 1 FROM media_shares ms WHERE ms.media_id = m.id AND ms.user_id = $1))"
    " ORDER BY m.created_at DESC, m.id LIMIT 500";

static void listed(const pg_result_t *res, void *priv)
{
    req_t *r = priv;
    if (!res) {
        req_error(r, E_UNAVAILABLE, "clips are not available right now; try again");
        return;
    }
    json_t *items = json_array();
    for (int i = 0; i < pg_ntuples(res); i++)
        json_array_append_new(items, media_row_json(res, i, 0));
    req_ok(r, json_pack("{s:o}", "media", items));
}

static void media_list(req_t *r)
{
    if (need_pg(r) < 0)
        return;
    const char *params[] = {req_user(r)};
    pg_query(LIST_SQL, 1, params, listed, r);
}

/* The item as the user sees it ($1 id, $2 user, $3 circles), with the people it is shared with. */
static const char GET_SQL[] =
    "SELECT " MEDIA_COLUMNS ", (SELECT coalesce(array_to_json(array_agg(ms.user_id ORDER BY ms.shared_at)), '[]')::text"
    " FROM media_shares ms WHERE ms.media_id = m.id)"
    " FROM media m WHERE m.id = $1 AND m.state = 'ready' AND " MEDIA_CAN_VIEW_SQL("m", "$2", "$3");

/* The owner's changes ($1 id, $2 user, $3 circles, $4 the argument): v is the item if the user may see it;
 * the change applies only if the user owns it. Answers (seen, owned, changed[, path]). */
#define OWNER_OP(CHANGE, EXTRA)                                                                                  \
    "WITH v AS (SELECT m.id, m.owner = $2 AS own FROM media m WHERE m.id = $1 AND m.state = 'ready' AND "       \
    MEDIA_CAN_VIEW_SQL("m", "$2", "$3") "), op AS (" CHANGE ")"                                                 \
    " SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM v WHERE own), (SELECT count(*) FROM op)" EXTRA

static const char SHARE_SQL[] = OWNER_OP("INSERT INTO media_shares (media_id, user_id) SELECT id, $4 FROM v WHERE own"
                                         " ON CONFLICT DO NOTHING RETURNING 1", "");
static const char UNSHARE_SQL[] = OWNER_OP("DELETE FROM media_shares WHERE media_id IN (SELECT id FROM v WHERE own)"
                                           " AND user_id = $4 RETURNING 1", "");
static const char DELETE_SQL[] = OWNER_OP("DELETE FROM media WHERE id IN (SELECT id FROM v WHERE own) AND $4 = ''"
                                          " RETURNING path", ", (SELECT path FROM op)");
static const char RENAME_SQL[] = OWNER_OP("UPDATE media SET title = $4 WHERE id IN (SELECT id FROM v WHERE own)"
                                          " RETURNING 1", "");

static void unlinked(uv_fs_t *fs)
{
    if (fs->result < 0 && fs->result != UV_ENOENT)
        log_warn("media: cannot remove %s: %s", fs->path, uv_strerror((int)fs->result));
    uv_fs_req_cleanup(fs);
    free(fs);
}

static void unlink_path(const char *path)
{
    uv_fs_t *fs = malloc(sizeof *fs);
    if (!fs || uv_fs_unlink(loop, fs, path, unlinked) < 0)
        free(fs);
}

void media_unlink_file(const char *id, int partial)
{
    char path[512];
    if (media_file_path(id, partial, path, sizeof path) == 0)
        unlink_path(path);
}

static void got_item(const pg_result_t *res, void *priv);

static void owner_done(const pg_result_t *res, void *priv)
{
    mreq_t *m = priv;
    if (!res || pg_ntuples(res) != 1) {
        req_error(m->r, E_UNAVAILABLE, "clips are not available right now; try again");
    } else if (num(res, 0, 0) == 0) {
        req_error(m->r, E_NOT_FOUND, "no such media");
    } else if (num(res, 0, 1) == 0) {
        req_error(m->r, E_FORBIDDEN, "only the owner may do that");
    } else if (m->op == OP_SHARE) {
        req_ok(m->r, json_pack("{s:b}", "added", num(res, 0, 2) > 0));
    } else if (m->op == OP_UNSHARE) {
        if (num(res, 0, 2) == 0)
            req_error_ex(m->r, E_NOT_FOUND, "user", 0, "the clip is not shared with that person");
        else
            req_ok(m->r, NULL);
    } else {
        char path[512];
        if (m->op == OP_DELETE && media_rel_path(pg_value(res, 0, 3), path, sizeof path) == 0)
            unlink_path(path); /* the row's own path: a recording's file too */
        req_ok(m->r, NULL);
    }
    mreq_free(m);
}

static void scoped(const char *circles, void *priv)
{
    mreq_t *m = priv;
    if (!circles) {
        req_error(m->r, E_UNAVAILABLE, "the server cannot check access right now; try again");
        mreq_free(m);
        return;
    }
    static const char *const sql[] = {[OP_GET] = GET_SQL, [OP_SHARE] = SHARE_SQL, [OP_UNSHARE] = UNSHARE_SQL,
                                      [OP_DELETE] = DELETE_SQL, [OP_RENAME] = RENAME_SQL};
    const char *arg = m->op == OP_RENAME ? m->title : m->other;
    const char *params[] = {m->id, req_user(m->r), circles, arg};
    pg_query(sql[m->op], m->op == OP_GET ? 3 : 4, params, m->op == OP_GET ? got_item : owner_done, m);
}

static mreq_t *mreq_new(req_t *r, int op)
{
    const char *id;
    if (feature_req_id(r, "media", 0, 1, &id) < 0)
        return NULL;
    if (need_pg(r) < 0)
        return NULL;
    mreq_t *m = calloc(1, sizeof *m);
    if (!m) {
        req_error(r, E_INTERNAL, "out of memory");
        return NULL;
    }
    m->r = r;
    m->id = id;
    m->op = op;
    return m;
}

static void item_keyed(int ok, void *priv);

static void got_item(const pg_result_t *res, void *priv)
{
    mreq_t *m = priv;
    if (!res) {
        req_error(m->r, E_UNAVAILABLE, "clips are not available right now; try again");
        mreq_free(m);
        return;
    }
    if (pg_ntuples(res) != 1) {
        req_error(m->r, E_NOT_FOUND, "no such media");
        mreq_free(m);
        return;
    }
    json_t *item = media_row_json(res, 0, 0);
    const char *shares = pg_value(res, 0, MEDIA_NCOLUMNS);
    int own = strcmp(json_string_value(json_object_get(item, "owner")), req_user(m->r)) == 0;
    json_object_set_new(item, "shared_with", own && shares ? json_loads(shares, 0, NULL) : json_array());
    m->item = item; /* the URL is added once the key is known (at once, normally) */
    with_key(item_keyed, m);
}

static void item_keyed(int ok, void *priv)
{
    mreq_t *m = priv;
    json_t *item = m->item;
    if (!ok || !item) {
        req_error(m->r, E_UNAVAILABLE, "the server cannot make media links right now; try again");
        mreq_free(m);
        return;
    }
    char token[128], url[256];
    token_make(m->id, req_user(m->r), token);
    snprintf(url, sizeof url, "/media/%s/file?t=%s", m->id, token);
    json_object_set_new(item, "url", json_string(url));
    json_object_set_new(item, "url_expires_in", json_integer(config_get()->media_token_ttl));
    m->item = NULL;
    req_ok(m->r, json_pack("{s:o}", "media", item));
    mreq_free(m);
}

static void media_get(req_t *r)
{
    mreq_t *m = mreq_new(r, OP_GET);
    if (m)
        media_scope(req_user(r), scoped, m);
}

static void person_found(const store_reply_t *rep, void *priv)
{
    mreq_t *m = priv;
    const char *text = store_ok(rep) && store_type(rep) == STORE_STR ? store_str(rep, NULL) : NULL;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    const char *uid = json_string_value(json_object_get(json_object_get(o, "user"), "id"));
    if (!uid) {
        json_decref(o);
        if (rep && store_type(rep) == STORE_ERR)
            req_error_ex(m->r, E_NOT_FOUND, "user", 0, "no such person");
        else
            req_store_error(m->r, rep);
        mreq_free(m);
        return;
    }
    snprintf(m->other, sizeof m->other, "%s", uid);
    json_decref(o);
    if (strcmp(m->other, req_user(m->r)) == 0) {
        req_error_ex(m->r, E_BAD_REQUEST, "user", 0, "the clip is yours already");
        mreq_free(m);
        return;
    }
    media_scope(req_user(m->r), scoped, m);
}

/* media.share / media.unshare: {media, user: a user name or id}. */
static void share_op(req_t *r, int op)
{
    const char *who;
    if (req_str(r, "user", 1, 64, 1, &who) < 0)
        return;
    mreq_t *m = mreq_new(r, op);
    if (!m)
        return;
    const char *args[] = {who};
    store_fcall("media_person", person_found, m, 0, 1, args);
}

static void media_share(req_t *r) { share_op(r, OP_SHARE); }
static void media_unshare(req_t *r) { share_op(r, OP_UNSHARE); }

static void media_delete(req_t *r)
{
    mreq_t *m = mreq_new(r, OP_DELETE);
    if (m)
        media_scope(req_user(r), scoped, m);
}

static void media_rename(req_t *r)
{
    const char *title;
    if (req_str(r, "title", 1, MEDIA_TITLE_MAX, 1, &title) < 0)
        return;
    mreq_t *m = mreq_new(r, OP_RENAME);
    if (!m)
        return;
    if (!(m->title = strdup(title))) {
        req_error(r, E_INTERNAL, "out of memory");
        mreq_free(m);
        return;
    }
    media_scope(req_user(r), scoped, m);
}

/* ---------------- module ---------------- */

static int media_start(uv_loop_t *l)
{
    loop = l;
    if (!pg_configured())
        return upload_start(l); /* clips need PostgreSQL: nothing to store, every route answers 503 */
    const char *dir = config_get()->media_dir;
    /* At start, before any request: creating a directory once is not a wait anyone notices. */
    if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
        char parent[512];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = '\0';
            mkdir(parent, 0750);
        }
        if (mkdir(dir, 0750) < 0 && errno != EEXIST) /* the node still runs: uploads answer 500 */
            log_error("media: cannot create media-dir %s: %s (lesson clips cannot be stored)", dir, strerror(errno));
    }
    return upload_start(l);
}

static void media_stop(void) { upload_stop(); }

static const handler_t handlers[] = {
    {"media.list", media_list, H_RL_READ},
    {"media.get", media_get, H_RL_READ},
    {"media.share", media_share, H_RL_MSG},
    {"media.unshare", media_unshare, H_RL_MSG},
    {"media.delete", media_delete, H_RL_MSG},
    {"media.rename", media_rename, H_RL_MSG},
    {NULL, NULL, 0},
};

static const module_route_t routes[] = {
    {"/media", media_route, NULL},
    {NULL, NULL, NULL},
};

const module_t media_module = {
    .name = "media",
    .handlers = handlers,
    .method_routes = routes,
    .start = media_start,
    .stop = media_stop,
};
