/* accounts.c — see accounts.h. */
#include "accounts.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "bus.h"
#include "dispatch.h"
#include "feature.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "presence.h"
#include "tz.h"
#include "ws.h"

/* The WebSocket close code of a suspended account's connections (RFC 6455 section 7.4.1: 1008, policy
 * violation): the client shows the reason from the auth.suspended event sent just before. */
#define ACCOUNT_SUSPENDED_CLOSE 1008

/* Weak: schedule.c sends what waited for a user while offline; a build without it skips this. */
extern void schedule_signed_in(uint64_t conn, const char *uid) __attribute__((weak));

#define TOKEN_BYTES 32
#define TOKEN_HEX (2 * TOKEN_BYTES)
#define UID_BYTES 16
#define PASSWORD_MIN 8
#define PASSWORD_MAX 256

static uv_loop_t *loop;
static char dummy_hash[crypto_pwhash_STRBYTES];

void accounts_init(uv_loop_t *l)
{
    loop = l;
    /* Start-up may block: one hash to verify unknown names against. */
    if (crypto_pwhash_str(dummy_hash, "no such user", 12, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy_hash[0] = '\0';
}

/* ---------------- helpers ---------------- */

/* Key names of a user, for the library functions' KEYS (ARCHITECTURE.md, "Redis keys"). */
#define USER_KEY_MAX 64 /* "username:" + a lower-cased name (< 40), or "user:<uid>:circles" */
static const char *user_key(char out[USER_KEY_MAX], const char *uid, const char *suffix)
{
    snprintf(out, USER_KEY_MAX, "user:%s%s", uid, suffix);
    return out;
}
static const char *username_key(char out[USER_KEY_MAX], const char *lname)
{
    snprintf(out, USER_KEY_MAX, "username:%s", lname);
    return out;
}

static long long unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int accounts_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
            return 0;
    return 1;
}

int accounts_tz_valid(const char *tz)
{
    size_t n = strlen(tz);
    if (n < 1 || n > 64 || tz[0] == '/' || strstr(tz, ".."))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)tz[i]) && !strchr("_+-/", tz[i]))
            return 0;
    return tz_name_known(tz); /* the names loaded at start-up (tz.h): no file I/O here */
}

static void lower(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i] && i + 1 < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

/* A new token (hex, sent to the client once) and the Redis key of its hash. */
static void token_new(char hex[TOKEN_HEX + 1], char key[8 + 2 * crypto_hash_sha256_BYTES + 1])
{
    unsigned char raw[TOKEN_BYTES], h[crypto_hash_sha256_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, TOKEN_HEX + 1, raw, sizeof raw);
    crypto_hash_sha256(h, raw, sizeof raw);
    memcpy(key, "session:", 8);
    sodium_bin2hex(key + 8, 2 * sizeof h + 1, h, sizeof h);
    sodium_memzero(raw, sizeof raw);
}

/* prefix (e.g. "session:") then the hex SHA-256 of a token the client sent, into key (cap bytes); -1 if
 * the token is not 64 hex characters or does not fit. */
static int token_key_with(const char *prefix, const char *hex, char *key, size_t cap)
{
    unsigned char raw[TOKEN_BYTES], h[crypto_hash_sha256_BYTES];
    size_t n = 0, plen = strlen(prefix);
    if (plen + 2 * sizeof h + 1 > cap || strlen(hex) != TOKEN_HEX ||
        sodium_hex2bin(raw, sizeof raw, hex, TOKEN_HEX, NULL, &n, NULL) < 0 || n != TOKEN_BYTES)
        return -1;
    crypto_hash_sha256(h, raw, sizeof raw);
    memcpy(key, prefix, plen);
    sodium_bin2hex(key + plen, 2 * sizeof h + 1, h, sizeof h);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

/* The session key for a token the client sent; -1 if it is not 64 hex characters. */
static int token_key(const char *hex, char key[8 + 2 * crypto_hash_sha256_BYTES + 1])
{
    return token_key_with("session:", hex, key, 8 + 2 * crypto_hash_sha256_BYTES + 1);
}

int accounts_calendar_key(const char *token, char key[80])
{
    return token_key_with("caltoken:", token, key, 80);
}

int accounts_session_key(const char *token, char key[80]) { return token_key_with("session:", token, key, 80); }

json_t *accounts_user_json(const char *uid, const store_reply_t *h)
{
    size_t n = store_len(h);
    if (n == 0 || n % 2)
        return NULL;
    json_t *u = json_pack("{s:s,s:s,s:s,s:s,s:[],s:s,s:s,s:b}", "id", uid, "name", "", "display_name", "",
                          "school", "", "subjects", "tz", "UTC", "bio", "", "admin", 0);
    if (!u)
        return NULL;
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *k = store_str(store_elem(h, i), NULL);
        size_t vlen = 0;
        const char *v = store_str(store_elem(h, i + 1), &vlen);
        if (!k || !v)
            continue;
        if (strcmp(k, "admin") == 0) {
            json_object_set_new(u, "admin", json_boolean(strcmp(v, "1") == 0));
        } else if (strcmp(k, "subjects") == 0) {
            json_t *s = json_loadb(v, vlen, 0, NULL);
            if (json_is_array(s))
                json_object_set_new(u, "subjects", s);
            else
                json_decref(s);
        } else if (!strcmp(k, "name") || !strcmp(k, "display_name") || !strcmp(k, "school") || !strcmp(k, "tz") ||
                   !strcmp(k, "bio")) {
            json_object_set_new(u, k, json_stringn(v, vlen));
        } /* pwhash, created: never sent */
    }
    return u;
}

/* The optional `device` of a sign-in request (a name the client gives itself, e.g. "Firefox on a laptop",
 * shown by auth.sessions): checked by device_field_check, "" when absent. Borrowed for r's lifetime. */
static int device_field_check(req_t *r)
{
    const char *d;
    return req_str(r, "device", 1, 64, 0, &d);
}
static const char *req_device_name(req_t *r)
{
    const char *d = json_string_value(json_object_get(req_json(r), "device"));
    return d ? d : "";
}
/* The address the request's connection comes from ("" if it is gone), into out[64]. */
static const char *req_peer(req_t *r, char out[64])
{
    conn_t *c = conn_find(req_conn(r));
    snprintf(out, 64, "%s", c ? conn_peer(c) : "");
    return out;
}

/* ---------------- signing in ---------------- */

typedef struct {
    req_t *r;
    json_t *out;
    char key[80]; /* session:<hash> */
    char ukey[USER_KEY_MAX]; /* user:<uid> */
} answer_t;

/* The session still exists and the account is not suspended now that the session's channel is
 * subscribed: the sign-in stands. If it was ended in between (auth.logout elsewhere after the session was
 * read, or admin.suspend, before ev:s:<hash> was live here, so its event was not seen), the connection is
 * signed out and the sign-in refused. Reply of accounts_session_live: 1 live, 0 ended, -1 suspended. */
static void session_checked(const store_reply_t *rep, void *priv)
{
    answer_t *a = priv;
    if (rep && store_type(rep) == STORE_INT && store_int(rep) != 1) {
        conn_t *c = conn_find(req_conn(a->r));
        if (c && conn_user(c) && strcmp(conn_session(c), a->key + 8) == 0)
            conn_sign_out(c);
        json_decref(a->out);
        if (store_int(rep) < 0)
            req_error(a->r, E_SUSPENDED, "this account is suspended");
        else
            req_error(a->r, E_UNAUTHORIZED, "this session was ended");
    } else {
        req_ok(a->r, a->out);
    }
    free(a);
}

static void answer_signed_in(const store_reply_t *rep, void *priv)
{
    (void)rep;
    answer_t *a = priv;
    const char *args[] = {a->key, a->ukey};
    store_fcall("accounts_session_live", session_checked, a, 2, 0, args);
}

/* Completes a sign-in: the connection (if still there) becomes uid's, then r is answered with user and,
 * for register/login, the new token. user and circles are borrowed store replies. */
static void sign_in(req_t *r, const char *uid, const store_reply_t *user, const store_reply_t *circles,
                    const char *token, const char *session_key, long long expires_at)
{
    json_t *u = accounts_user_json(uid, user);
    if (!u) {
        req_error(r, E_UNAUTHORIZED, "that account no longer exists");
        return;
    }
    conn_t *c = conn_find(req_conn(r));
    if (c) {
        size_t n = store_len(circles), k = 0;
        const char **ids = calloc(n / 2 + 1, sizeof *ids);
        for (size_t i = 0; ids && i + 1 < n; i += 2) {
            const char *status = store_str(store_elem(circles, i + 1), NULL);
            if (status && strcmp(status, "member") == 0)
                ids[k++] = store_str(store_elem(circles, i), NULL);
        }
        if (conn_sign_in(c, uid, json_string_value(json_object_get(u, "name")), ids, k) == 0) {
            conn_set_session(c, session_key + 8);
            presence_device_up(c);
            if (schedule_signed_in)
                schedule_signed_in(conn_id(c), uid);
            log_info("conn %llu: signed in as %s", (unsigned long long)conn_id(c), uid);
        }
        free(ids);
    }
    req_set_user(r, uid);
    json_t *out = json_pack("{s:o,s:I}", "user", u, "expires_at", (json_int_t)expires_at);
    if (token)
        json_object_set_new(out, "token", json_string(token));
    answer_t *a = malloc(sizeof *a);
    if (!a) {
        req_ok(r, out);
        return;
    }
    a->r = r;
    a->out = out;
    snprintf(a->key, sizeof a->key, "%s", session_key);
    user_key(a->ukey, uid, "");
    /* Answer once the user's, circles' and session's channels are subscribed: the client may act on the
     * answer at once (e.g. join a circle) and must not miss the events that follow. */
    store_sub_barrier(answer_signed_in, a);
}

/* ---------------- password work on the thread pool ---------------- */

typedef struct job job_t;
typedef void (*job_done_fn)(job_t *j, int status);
struct job {
    uv_work_t work;
    req_t *r;
    int verify;                         /* 0: hash password into hash; 1: verify password against hash */
    char password[PASSWORD_MAX * 4 + 1]; /* wiped after use */
    char hash[crypto_pwhash_STRBYTES];
    char uid[2 * UID_BYTES + 1];
    int ok;
    job_done_fn done;
};

static void job_work(uv_work_t *w)
{
    job_t *j = w->data;
    if (j->verify)
        j->ok = crypto_pwhash_str_verify(j->hash, j->password, strlen(j->password)) == 0;
    else
        j->ok = crypto_pwhash_str(j->hash, j->password, strlen(j->password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                  crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
    sodium_memzero(j->password, sizeof j->password);
}

/* Hashes queued or running on the thread pool. Bounded by hash-queue-max: each holds 64 MiB while it
 * runs and a login storm would otherwise queue without limit, delaying every sign-in behind it. */
static long jobs_in_flight;

static void job_after(uv_work_t *w, int status)
{
    job_t *j = w->data;
    jobs_in_flight--;
    j->done(j, status);
    sodium_memzero(j, sizeof *j);
    free(j);
}

/* Queues a hash or verify of password (copied) for r, and wipes the request's member `field` that held it;
 * done runs on the loop and owns answering r. */
static void job_start(req_t *r, const char *field, const char *password, const char *hash, const char *uid,
                      job_done_fn done)
{
    if (jobs_in_flight >= config_get()->hash_queue_max) {
        metrics_hash_refused();
        req_error_ex(r, E_UNAVAILABLE, NULL, 1000, "too many sign-ins at once; retry shortly");
        return;
    }
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    j->work.data = j;
    j->r = r;
    j->done = done;
    snprintf(j->password, sizeof j->password, "%s", password);
    if (hash) {
        j->verify = 1;
        snprintf(j->hash, sizeof j->hash, "%s", hash);
    }
    if (uid)
        snprintf(j->uid, sizeof j->uid, "%s", uid);
    /* The request's own copy of the password is no longer needed. */
    json_object_del(req_json(r), field);
    if (uv_queue_work(loop, &j->work, job_work, job_after) < 0) {
        sodium_memzero(j, sizeof *j);
        free(j);
        req_error(r, E_INTERNAL, "cannot queue work");
        return;
    }
    jobs_in_flight++;
}

/* ---------------- auth.register ---------------- */

typedef struct {
    req_t *r;
    char token[TOKEN_HEX + 1];
    char key[8 + 2 * crypto_hash_sha256_BYTES + 1];
    char uid[2 * UID_BYTES + 1];
} pending_t;

/* auth.register / auth.login: the session is stored (reply: the user's hash and circles) → signed in. */
static void session_stored(const store_reply_t *rep, void *priv)
{
    pending_t *p = priv;
    if (!store_ok(rep) || store_len(rep) != 2) {
        req_store_error(p->r, rep);
    } else {
        long long exp = unix_ms() + config_get()->token_lifetime * 1000;
        sign_in(p->r, p->uid, store_elem(rep, 0), store_elem(rep, 1), p->token, p->key, exp);
    }
    sodium_memzero(p, sizeof *p);
    free(p);
}

static void register_hashed(job_t *j, int status)
{
    req_t *r = j->r;
    if (status < 0 || !j->ok) {
        req_error(r, E_INTERNAL, "password hashing failed");
        return;
    }
    json_t *root = req_json(r);
    const char *name = json_string_value(json_object_get(root, "name"));
    const char *display = json_string_value(json_object_get(root, "display_name"));
    pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    p->r = r;
    unsigned char raw[UID_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(p->uid, sizeof p->uid, raw, sizeof raw);
    token_new(p->token, p->key);
    char lname[40], created[32], ttl[32];
    lower(lname, name, sizeof lname);
    snprintf(created, sizeof created, "%lld", unix_ms());
    snprintf(ttl, sizeof ttl, "%lld", config_get()->token_lifetime);
    char nk[USER_KEY_MAX], uk[USER_KEY_MAX], sk[USER_KEY_MAX], peer[64];
    const char *args[] = {username_key(nk, lname), user_key(uk, p->uid, ""), user_key(sk, p->uid, ":sessions"),
                          p->uid, name, display ? display : name, j->hash, "0", created, p->key, ttl,
                          req_device_name(r), req_peer(r, peer)};
    store_fcall("accounts_register", session_stored, p, 3, 10, args);
}

static int get_name_password(req_t *r, const char **name, const char **password)
{
    if (req_str(r, "name", 3, 32, 1, name) < 0 || req_str(r, "password", PASSWORD_MIN, PASSWORD_MAX, 1, password) < 0)
        return -1;
    if (!accounts_name_valid(*name)) {
        req_error_ex(r, E_BAD_REQUEST, "name", 0, "'name' may only hold letters, digits, '_', '.' and '-'");
        return -1;
    }
    return 0;
}

static void on_register(req_t *r)
{
    const char *name, *password, *display = NULL;
    if (get_name_password(r, &name, &password) < 0 || req_str(r, "display_name", 1, 64, 0, &display) < 0 ||
        device_field_check(r) < 0)
        return;
    job_start(r, "password", password, NULL, NULL, register_hashed);
}

/* ---------------- auth.login ---------------- */

static void login_verified(job_t *j, int status)
{
    req_t *r = j->r;
    if (status < 0) {
        req_error(r, E_INTERNAL, "password check failed");
        return;
    }
    if (!j->ok || !j->uid[0]) {
        log_info("conn %llu: failed sign-in", (unsigned long long)req_conn(r));
        req_error(r, E_UNAUTHORIZED, "wrong name or password");
        return;
    }
    pending_t *p = calloc(1, sizeof *p);
    if (!p) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    p->r = r;
    snprintf(p->uid, sizeof p->uid, "%s", j->uid);
    token_new(p->token, p->key);
    char ttl[32];
    snprintf(ttl, sizeof ttl, "%lld", config_get()->token_lifetime);
    char uk[USER_KEY_MAX], ck[USER_KEY_MAX], sk[USER_KEY_MAX], peer[64];
    const char *args[] = {p->key, user_key(uk, p->uid, ""), user_key(ck, p->uid, ":circles"),
                          user_key(sk, p->uid, ":sessions"), p->uid, ttl, req_device_name(r), req_peer(r, peer)};
    store_fcall("accounts_session", session_stored, p, 4, 4, args);
}

static void login_found(const store_reply_t *rep, void *priv)
{
    req_t *r = priv;
    if (!store_ok(rep) || store_len(rep) != 2) {
        req_store_error(r, rep);
        return;
    }
    const char *uid = store_str(store_elem(rep, 0), NULL), *hash = store_str(store_elem(rep, 1), NULL);
    const char *password = json_string_value(json_object_get(req_json(r), "password"));
    if (uid && !*uid && dummy_hash[0]) {
        job_start(r, "password", password ? password : "", dummy_hash, NULL, login_verified); /* unknown name */
        return;
    }
    if (!uid || !hash || !password || strlen(uid) != 2 * UID_BYTES) {
        req_error(r, E_INTERNAL, "malformed account record");
        return;
    }
    job_start(r, "password", password, hash, uid, login_verified);
}

static void on_login(req_t *r)
{
    const char *name, *password;
    if (get_name_password(r, &name, &password) < 0 || device_field_check(r) < 0)
        return;
    char lname[40];
    lower(lname, name, sizeof lname);
    char nk[USER_KEY_MAX];
    const char *args[] = {username_key(nk, lname)};
    store_fcall("accounts_lookup", login_found, r, 1, 0, args);
}

/* ---------------- auth.resume ---------------- */

typedef struct {
    req_t *r;
    char key[8 + 2 * crypto_hash_sha256_BYTES + 1];
} resume_t;

static void resume_found(const store_reply_t *rep, void *priv)
{
    resume_t *p = priv;
    if (!store_ok(rep) || store_len(rep) != 4) {
        req_store_error(p->r, rep);
    } else {
        const char *uid = store_str(store_elem(rep, 3), NULL);
        long long exp = unix_ms() + store_int(store_elem(rep, 2));
        sign_in(p->r, uid ? uid : "", store_elem(rep, 0), store_elem(rep, 1), NULL, p->key, exp);
    }
    free(p);
}

static void on_resume(req_t *r)
{
    const char *token;
    if (req_str(r, "token", 1, 128, 1, &token) < 0 || device_field_check(r) < 0)
        return;
    resume_t *p = calloc(1, sizeof *p);
    if (!p) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    if (token_key(token, p->key) < 0) {
        free(p);
        req_error_ex(r, E_BAD_REQUEST, "token", 0, "'token' must be 64 hexadecimal characters");
        return;
    }
    p->r = r;
    char peer[64];
    const char *args[] = {p->key, req_device_name(r), req_peer(r, peer)};
    store_fcall("accounts_resume", resume_found, p, 1, 2, args);
}

/* ---------------- sessions: auth.logout, logout_all, sessions, session_end ----------------
 *
 * Ending a session is one library function (accounts.lua): the token stops working and an
 * auth.signed_out event goes to the session's channel ev:s:<hash>, to which every connection signed in
 * with it is subscribed, on every node (conn.c). session_ended (below) signs those connections out. The
 * asking connection is signed out at once as well, so that it is out even while Redis is down. */

/* bus.h session handler: the session ended; every connection here signed in with it is signed out and
 * told so (the event, as published: {"type":"auth.signed_out","user","reason"}). */
typedef struct {
    const char *session;
    uint64_t ids[64];
    size_t n;
} ending_t;

static void collect_session(conn_t *c, void *arg)
{
    ending_t *e = arg;
    if (e->n < sizeof e->ids / sizeof e->ids[0] && strcmp(conn_session(c), e->session) == 0)
        e->ids[e->n++] = conn_id(c);
}

static void session_ended(const char *session, const char *payload, size_t len)
{
    json_t *ev = json_loadb(payload, len, 0, NULL);
    const char *uid = json_string_value(json_object_get(ev, "user"));
    const char *type = json_string_value(json_object_get(ev, "type"));
    /* admin.suspend (moderation.lua) ends the sessions with auth.suspended: the connection is also closed,
     * after the event, so that a client that ignores the event still cannot go on. */
    int suspended = type && strcmp(type, "auth.suspended") == 0;
    if (uid) {
        /* Collected first: conn_foreach's callback may not sign anyone out. More than 64 connections of
         * one session on one node: the rest are found on the next round. */
        ending_t e = {.session = session};
        do {
            e.n = 0;
            conn_foreach(uid, collect_session, &e);
            for (size_t i = 0; i < e.n; i++) {
                conn_t *c = conn_find(e.ids[i]);
                if (!c)
                    continue;
                log_info("conn %llu: session ended elsewhere: signed out%s", (unsigned long long)e.ids[i],
                         suspended ? " (account suspended): closing" : "");
                conn_sign_out(c);
                conn_send_text(c, payload, len);
                if (suspended && conn_ws(c))
                    ws_close(conn_ws(c), ACCOUNT_SUSPENDED_CLOSE, "account suspended");
            }
        } while (e.n == sizeof e.ids / sizeof e.ids[0]);
    }
    json_decref(ev);
}

static int session_hash_valid(const char *s)
{
    if (strlen(s) != 2 * crypto_hash_sha256_BYTES)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
            return 0;
    return 1;
}

/* auth.logout: an ended or expired session is as good as ended (ok). */
static void logout_done(const store_reply_t *rep, void *priv)
{
    req_t *r = priv;
    const char *err = store_type(rep) == STORE_ERR ? store_str(rep, NULL) : NULL;
    if (!store_ok(rep) && !(err && strncmp(err, "not_found", 9) == 0))
        req_store_error(r, rep);
    else
        req_ok(r, NULL);
}

/* The asking connection's user and session (copied into uid, session), then signed out here at once. */
static void sign_out_here(req_t *r, char uid[40], char session[72])
{
    conn_t *c = conn_find(req_conn(r));
    uid[0] = session[0] = '\0';
    if (!c)
        return;
    snprintf(uid, 40, "%s", conn_user(c) ? conn_user(c) : "");
    snprintf(session, 72, "%s", conn_session(c));
    log_info("conn %llu: signed out", (unsigned long long)conn_id(c));
    conn_sign_out(c); /* at once: even if Redis is down, this connection is no longer signed in */
}

static void on_logout(req_t *r)
{
    char uid[40], session[72], sk[USER_KEY_MAX];
    sign_out_here(r, uid, session);
    if (!uid[0] || !session[0]) {
        req_ok(r, NULL);
        return;
    }
    const char *args[] = {user_key(sk, uid, ":sessions"), uid, session, "logout"};
    store_fcall("accounts_session_end", logout_done, r, 1, 3, args);
}

static void on_logout_all(req_t *r)
{
    char uid[40], session[72], sk[USER_KEY_MAX];
    sign_out_here(r, uid, session);
    if (!uid[0]) {
        req_ok(r, NULL);
        return;
    }
    const char *args[] = {user_key(sk, uid, ":sessions"), uid, "", "logout_all"};
    feature_eval_answer(r, "accounts_logout_all", 1, 3, args);
}

static void on_sessions(req_t *r)
{
    conn_t *c = conn_find(req_conn(r));
    char sk[USER_KEY_MAX];
    const char *args[] = {user_key(sk, req_user(r), ":sessions"), c ? conn_session(c) : ""};
    feature_eval_answer(r, "accounts_sessions", 1, 1, args);
}

static void on_session_end(req_t *r)
{
    const char *session;
    if (req_str(r, "session", 1, 128, 1, &session) < 0)
        return;
    if (!session_hash_valid(session)) {
        req_error_ex(r, E_BAD_REQUEST, "session", 0, "'session' must be a session id from auth.sessions");
        return;
    }
    char sk[USER_KEY_MAX];
    const char *args[] = {user_key(sk, req_user(r), ":sessions"), req_user(r), session, "ended"};
    feature_eval_answer(r, "accounts_session_end", 1, 3, args);
}

/* ---------------- auth.password ----------------
 * The old password is checked first (a stolen session alone cannot change it), then the new one is
 * hashed, then one library function stores it and ends every other session of the user. */

typedef struct {
    req_t *r;
    char uid[2 * UID_BYTES + 1];
    char session[72]; /* the asking connection's, kept */
} pwchange_t;

static void password_stored(const store_reply_t *rep, void *priv)
{
    req_t *r = priv;
    json_t *fields = NULL;
    size_t len;
    const char *text = store_ok(rep) ? store_str(rep, &len) : NULL;
    if (text && (fields = json_loadb(text, len, 0, NULL)) && json_is_object(fields)) {
        log_info("conn %llu: password changed", (unsigned long long)req_conn(r));
        req_ok(r, fields);
        return;
    }
    json_decref(fields);
    req_store_error(r, rep);
}

static void password_hashed(job_t *j, int status)
{
    req_t *r = j->r;
    if (status < 0 || !j->ok) {
        req_error(r, E_INTERNAL, "password hashing failed");
        return;
    }
    conn_t *c = conn_find(req_conn(r));
    char uk[USER_KEY_MAX], sk[USER_KEY_MAX];
    const char *args[] = {user_key(uk, j->uid, ""), user_key(sk, j->uid, ":sessions"), j->uid, j->hash,
                          c ? conn_session(c) : ""};
    store_fcall("accounts_password_set", password_stored, r, 2, 3, args);
}

static void password_verified(job_t *j, int status)
{
    req_t *r = j->r;
    if (status < 0) {
        req_error(r, E_INTERNAL, "password check failed");
        return;
    }
    if (!j->ok) {
        log_info("conn %llu: password change with a wrong password", (unsigned long long)req_conn(r));
        req_error_ex(r, E_FORBIDDEN, "old_password", 0, "the old password is wrong");
        return;
    }
    const char *password = json_string_value(json_object_get(req_json(r), "password"));
    job_start(r, "password", password ? password : "", NULL, j->uid, password_hashed);
}

static void password_found(const store_reply_t *rep, void *priv)
{
    pwchange_t *p = priv;
    req_t *r = p->r;
    const char *hash = store_type(rep) == STORE_STR ? store_str(rep, NULL) : NULL;
    const char *old = json_string_value(json_object_get(req_json(r), "old_password"));
    if (!store_ok(rep))
        req_store_error(r, rep);
    else if (!hash || !*hash || !old)
        req_error(r, E_NOT_FOUND, "no such user");
    else
        job_start(r, "old_password", old, hash, p->uid, password_verified);
    free(p);
}

static void on_password(req_t *r)
{
    const char *old, *password;
    if (req_str(r, "old_password", 1, PASSWORD_MAX, 1, &old) < 0 ||
        req_str(r, "password", PASSWORD_MIN, PASSWORD_MAX, 1, &password) < 0)
        return;
    pwchange_t *p = calloc(1, sizeof *p);
    if (!p) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    p->r = r;
    snprintf(p->uid, sizeof p->uid, "%s", req_user(r));
    char uk[USER_KEY_MAX];
    const char *args[] = {user_key(uk, p->uid, "")};
    store_fcall("accounts_pwhash", password_found, p, 1, 0, args);
}

/* ---------------- calendar.token / calendar.revoke ---------------- */

static void on_calendar_token(req_t *r)
{
    int rotate = 0;
    if (req_bool(r, "rotate", 0, &rotate) < 0)
        return;
    char hex[TOKEN_HEX + 1], key[8 + 2 * crypto_hash_sha256_BYTES + 1], uk[USER_KEY_MAX];
    token_new(hex, key); /* key: "session:<hash>"; only the hash part is used */
    const char *args[] = {user_key(uk, req_user(r), ""), req_user(r), hex, key + 8, rotate ? "1" : "0"};
    feature_eval_answer(r, "calendar_token", 1, 4, args);
    sodium_memzero(hex, sizeof hex);
}

static void on_calendar_revoke(req_t *r)
{
    char uk[USER_KEY_MAX];
    const char *args[] = {user_key(uk, req_user(r), "")};
    feature_eval_answer(r, "calendar_revoke", 1, 0, args);
}

static int accounts_start(uv_loop_t *l)
{
    (void)l;
    bus_on_session(session_ended);
    return 0;
}

static void accounts_stop(void) { bus_on_session(NULL); }

/* ---------------- profile.get / profile.update ---------------- */

static int uid_valid(const char *s)
{
    if (strlen(s) != 2 * UID_BYTES)
        return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
            return 0;
    return 1;
}

typedef struct {
    req_t *r;
    char uid[2 * UID_BYTES + 1];
} profile_t;

static void profile_answer(const store_reply_t *rep, void *priv)
{
    profile_t *p = priv;
    if (!store_ok(rep) || store_type(rep) != STORE_ARR) {
        req_store_error(p->r, rep);
    } else {
        json_t *u = accounts_user_json(p->uid, rep);
        if (u)
            req_ok(p->r, json_pack("{s:o}", "user", u));
        else
            req_error(p->r, E_NOT_FOUND, "no such user");
    }
    free(p);
}

static profile_t *profile_new(req_t *r, const char *uid)
{
    profile_t *p = calloc(1, sizeof *p);
    if (!p) {
        req_error(r, E_INTERNAL, "out of memory");
        return NULL;
    }
    p->r = r;
    snprintf(p->uid, sizeof p->uid, "%s", uid);
    return p;
}

static void on_profile_get(req_t *r)
{
    const char *uid = req_user(r);
    if (req_str(r, "user", 1, 64, 0, &uid) < 0)
        return;
    if (!uid_valid(uid)) {
        req_error_ex(r, E_BAD_REQUEST, "user", 0, "'user' must be a user id (32 hexadecimal characters)");
        return;
    }
    profile_t *p = profile_new(r, uid);
    if (p)
        store_cmdf(profile_answer, p, "HGETALL user:%s", uid);
}

#define SUBJECTS_MAX 20

/* The subjects field as compact JSON text (new), NULL with r answered on a bad value, or *absent. */
static char *subjects_text(req_t *r, int *absent)
{
    json_t *v = json_object_get(req_json(r), "subjects");
    *absent = !v || json_is_null(v);
    if (*absent)
        return NULL;
    int ok = json_is_array(v) && json_array_size(v) <= SUBJECTS_MAX;
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        ok = ok && json_is_string(s) && json_string_length(s) >= 1 && json_string_length(s) <= 64;
    }
    if (!ok) {
        req_error_ex(r, E_BAD_REQUEST, "subjects", 0, "'subjects' must be a list of at most %d strings of 1-64 characters",
                     SUBJECTS_MAX);
        return NULL;
    }
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text)
        req_error(r, E_INTERNAL, "out of memory");
    return text;
}

static void on_profile_update(req_t *r)
{
    const char *display = NULL, *school = NULL, *tz = NULL, *bio = NULL;
    if (req_str(r, "display_name", 1, 64, 0, &display) < 0 || req_str(r, "school", 0, 128, 0, &school) < 0 ||
        req_str(r, "tz", 1, 64, 0, &tz) < 0 || req_str(r, "bio", 0, 2000, 0, &bio) < 0)
        return;
    if (tz && !accounts_tz_valid(tz)) {
        req_error_ex(r, E_BAD_REQUEST, "tz", 0, "'tz' must be an IANA time zone name such as Europe/London");
        return;
    }
    int absent;
    char *subjects = subjects_text(r, &absent);
    if (!subjects && !absent)
        return;
    const char *args[11];
    int n = 0;
    char uk[USER_KEY_MAX];
    args[n++] = user_key(uk, req_user(r), "");
    const char *names[] = {"display_name", "school", "tz", "bio", "subjects"};
    const char *vals[] = {display, school, tz, bio, subjects};
    for (int i = 0; i < 5; i++) {
        if (vals[i]) {
            args[n++] = names[i];
            args[n++] = vals[i];
        }
    }
    profile_t *p = profile_new(r, req_user(r));
    if (p)
        store_fcall("accounts_profile_update", profile_answer, p, 1, n - 1, args);
    free(subjects);
}

static const handler_t handlers[] = {
    {"auth.register", on_register, H_PUBLIC | H_RL_LOGIN},
    {"auth.login", on_login, H_PUBLIC | H_RL_LOGIN},
    {"auth.resume", on_resume, H_PUBLIC | H_RL_LOGIN},
    {"auth.logout", on_logout, H_RL_READ},
    {"auth.logout_all", on_logout_all, H_RL_READ},
    {"auth.sessions", on_sessions, H_RL_READ},
    {"auth.session_end", on_session_end, H_RL_READ},
    {"auth.password", on_password, H_RL_LOGIN},
    {"calendar.token", on_calendar_token, H_RL_READ},
    {"calendar.revoke", on_calendar_revoke, H_RL_READ},
    {"profile.get", on_profile_get, H_RL_READ},
    {"profile.update", on_profile_update, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t accounts_module = {
    .name = "accounts",
    .handlers = handlers,
    .start = accounts_start,
    .stop = accounts_stop,
};

/* ---------------- --create-admin ---------------- */

typedef struct {
    uv_timer_t timer;
    int waited_ms;
    int rc;
    int sent;
    char lname[40], uid[2 * UID_BYTES + 1], created[32];
    const char *name;
    char hash[crypto_pwhash_STRBYTES];
} admin_t;

static void admin_stored(const store_reply_t *rep, void *priv)
{
    admin_t *a = priv;
    size_t len = 0;
    const char *err = store_str(rep, &len);
    if (store_ok(rep)) {
        printf("created admin %s (id %s)\n", a->name, a->uid);
        a->rc = 0;
    } else if (rep && err && strncmp(err, "conflict", 8) == 0) {
        fprintf(stderr, "staffroom-signal: --create-admin: the name %s is taken\n", a->name);
        a->rc = 3;
    } else {
        fprintf(stderr, "staffroom-signal: --create-admin: %s\n", rep ? err : "Redis is unavailable");
        a->rc = 1;
    }
    store_close();
}

static void admin_tick(uv_timer_t *t)
{
    admin_t *a = t->data;
    if (store_is_up()) {
        char nk[USER_KEY_MAX], uk[USER_KEY_MAX];
        const char *args[] = {username_key(nk, a->lname), user_key(uk, a->uid, ""),
                              a->uid, a->name, a->name, a->hash, "1", a->created, "", "0"};
        uv_close((uv_handle_t *)t, NULL);
        store_fcall("accounts_register", admin_stored, a, 2, 8, args);
        return;
    }
    a->waited_ms += 50;
    if (a->waited_ms >= 10000) {
        fprintf(stderr, "staffroom-signal: --create-admin: cannot reach Redis\n");
        uv_close((uv_handle_t *)t, NULL);
        store_close();
    }
}

int accounts_create_admin(uv_loop_t *l, const char *name, const char *password)
{
    if (!accounts_name_valid(name)) {
        fprintf(stderr, "staffroom-signal: --create-admin: a name is 3-32 of letters, digits, '_', '.', '-'\n");
        return 1;
    }
    size_t plen = strlen(password);
    if (plen < PASSWORD_MIN || plen > PASSWORD_MAX) {
        fprintf(stderr, "staffroom-signal: --create-admin: the password must be %d-%d characters\n", PASSWORD_MIN,
                PASSWORD_MAX);
        return 1;
    }
    admin_t a;
    memset(&a, 0, sizeof a);
    a.rc = 1;
    a.name = name;
    /* This path is not the server loop: hashing here, blocking, is fine. */
    if (crypto_pwhash_str(a.hash, password, plen, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        fprintf(stderr, "staffroom-signal: --create-admin: out of memory hashing the password\n");
        return 1;
    }
    lower(a.lname, name, sizeof a.lname);
    unsigned char raw[UID_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(a.uid, sizeof a.uid, raw, sizeof raw);
    snprintf(a.created, sizeof a.created, "%lld", unix_ms());
    uv_timer_init(l, &a.timer);
    a.timer.data = &a;
    uv_timer_start(&a.timer, admin_tick, 0, 50);
    uv_run(l, UV_RUN_DEFAULT);
    sodium_memzero(a.hash, sizeof a.hash);
    return a.rc;
}
