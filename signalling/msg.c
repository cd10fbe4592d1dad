/* msg.c — see msg.h. */
#include "msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "jsonscan.h"
#include "log.h"
#include "metrics.h"

struct req {
    uint64_t conn;
    char *user;
    json_t *root;
    json_t *id;       /* borrowed from root */
    const char *type; /* static: the handler table's */
};

static long outstanding;

/* The frame being dispatched, for req_raw_member: only while its handler runs (see msg_set_frame). */
static const req_t *frame_req;
static const char *frame_buf;
static size_t frame_len;
static const char *frame_member_name; /* a member already located by the parser (see msg_set_frame_member) */
static const char *frame_member;
static size_t frame_member_len;

static const char *const codes[] = {E_BAD_REQUEST, E_UNAUTHORIZED, E_FORBIDDEN, E_NOT_FOUND, E_CONFLICT,
                                    E_RATE_LIMITED, E_TOO_LARGE, E_UNAVAILABLE, E_ROOM_FULL, E_INTERNAL,
                                    E_BAD_SDP,      E_GLARE,       E_SUSPENDED};

int msg_is_code(const char *code, size_t len)
{
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strlen(codes[i]) == len && memcmp(codes[i], code, len) == 0)
            return 1;
    return 0;
}

/* ---------------- parsing ---------------- */

static int parse_fail(msg_parsed_t *out, const char *field, const char *message)
{
    out->code = E_BAD_REQUEST;
    snprintf(out->field, sizeof out->field, "%s", field ? field : "");
    snprintf(out->message, sizeof out->message, "%s", message);
    return -1;
}

/* Characters (code points) of valid UTF-8: PROTOCOL.md counts lengths in characters, not bytes. */
static size_t utf8_chars(const char *s, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int id_valid(const json_t *id)
{
    if (json_is_integer(id))
        return 1;
    if (json_is_string(id)) {
        size_t n = utf8_chars(json_string_value(id), json_string_length(id));
        return n >= 1 && n <= 64 && strlen(json_string_value(id)) == json_string_length(id);
    }
    return 0;
}

/* 1 if v holds a string with U+0000 anywhere (jansson's depth limit bounds the recursion). The server's
 * strings are C strings: such a string cannot be stored or compared faithfully, so it is refused. */
static int holds_nul(const json_t *v)
{
    if (json_is_string(v))
        return strlen(json_string_value(v)) != json_string_length(v);
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (holds_nul(json_array_get(v, i)))
                return 1;
        return 0;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
            if (holds_nul(m))
                return 1;
    }
    return 0;
}

/* After check_root: a member whose value holds U+0000 is a bad_request naming that member, with the
 * request's id (a valid JSON frame is never answered as "invalid JSON" with a null id). */
static int check_nul(msg_parsed_t *out)
{
    const char *k;
    json_t *m;
    json_object_foreach(out->root, k, m)
        if (holds_nul(m))
            return parse_fail(out, k, "strings must not contain U+0000");
    return 0;
}

/* The checks every request passes once it is a JSON object (root set). */
static int check_root(msg_parsed_t *out)
{
    json_t *id = json_object_get(out->root, "id");
    if (id_valid(id))
        out->id = id;
    json_t *type = json_object_get(out->root, "type");
    if (!type)
        return parse_fail(out, "type", "missing field 'type'");
    if (!json_is_string(type) || json_string_length(type) < 1 || json_string_length(type) > 64)
        return parse_fail(out, "type", "'type' must be a string of 1-64 characters");
    if (!id)
        return parse_fail(out, "id", "missing field 'id'");
    if (!out->id)
        return parse_fail(out, "id", "'id' must be a string of 1-64 characters or an integer");
    out->type = json_string_value(type);
    return 0;
}

int msg_parse(const char *buf, size_t len, msg_parsed_t *out)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    /* Duplicate keys are rejected: two "type" members could mean different things to different readers. */
    out->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!out->root)
        return parse_fail(out, NULL, "invalid JSON");
    if (!json_is_object(out->root))
        return parse_fail(out, NULL, "a request must be a JSON object");
    if (check_root(out) < 0)
        return -1;
    return check_nul(out);
}

typedef struct {
    json_t *root;
    const char *passthrough;
    const char *pass; /* the pass-through member's text, once seen */
    size_t pass_len;
    int stubbed; /* root holds an empty object in its place */
} lazy_t;

/* A member's value as jansson would build it. The text was checked by jsonscan (UTF-8, no control
 * characters, escapes well formed), so the two most common leaves are built directly: a string without
 * escapes is its bytes, a short integer is strtoll's; anything else goes through jansson. */
static json_t *lazy_value(const char *val, size_t vlen)
{
    if (val[0] == '"' && !memchr(val, '\\', vlen))
        return json_stringn_nocheck(val + 1, vlen - 2);
    if (vlen <= 18 && (val[0] == '-' || (val[0] >= '0' && val[0] <= '9'))) {
        size_t k = val[0] == '-';
        while (k < vlen && val[k] >= '0' && val[k] <= '9')
            k++;
        if (k == vlen) { /* only digits: an integer that fits in 64 bits */
            char digits[20];
            memcpy(digits, val, vlen);
            digits[vlen] = '\0';
            return json_integer(strtoll(digits, NULL, 10));
        }
    }
    return json_loadb(val, vlen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
}

/* One top-level member into the lazy root: parsed, except the pass-through member when it is an object
 * (an empty object stands for it; its text is read with req_raw_member). Escaped or duplicate keys make
 * the lazy parse give up (the full parser then decides). */
static int lazy_member(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
    lazy_t *l = arg;
    char name[72];
    if (klen >= sizeof name || memchr(key, '\\', klen))
        return -1;
    memcpy(name, key, klen);
    name[klen] = '\0';
    if (json_object_get(l->root, name))
        return -1;
    json_t *v;
    if (strcmp(name, l->passthrough) == 0 && val[0] == '{') {
        v = json_object();
        l->pass = val;
        l->pass_len = vlen;
        l->stubbed = 1;
    } else {
        v = lazy_value(val, vlen);
    }
    if (!v || json_object_set_new(l->root, name, v) < 0)
        return -1;
    return 0;
}

int msg_parse_passthrough(const char *buf, size_t len, const char *member, msg_parsed_t *out)
{
    memset(out, 0, sizeof *out);
    lazy_t l = {json_object(), member, NULL, 0, 0};
    if (!l.root || jsonscan_object(buf, len, lazy_member, &l) != 0) {
        json_decref(l.root);
        return -1;
    }
    out->root = l.root;
    out->pass = l.pass;
    out->pass_len = l.pass_len;
    out->pass_stubbed = l.stubbed;
    if (check_root(out) < 0) {
        msg_parsed_clear(out);
        return -1;
    }
    return 0;
}

void msg_parsed_clear(msg_parsed_t *p)
{
    json_decref(p->root);
    p->root = NULL;
    p->id = NULL;
    p->type = NULL;
}

char *msg_error_text(const json_t *id, const char *code, const char *field, long long retry_after_ms,
                     const char *message)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string("error"));
    json_object_set_new(o, "id", id ? json_deep_copy(id) : json_null());
    json_object_set_new(o, "code", json_string(code));
    json_object_set_new(o, "message", json_string(message));
    if (field && *field)
        json_object_set_new(o, "field", json_string(field));
    if (retry_after_ms > 0)
        json_object_set_new(o, "retry_after_ms", json_integer(retry_after_ms));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* ---------------- requests ---------------- */

req_t *req_new(uint64_t conn, const char *user, json_t *root, const char *type)
{
    req_t *r = calloc(1, sizeof *r);
    if (!r || (user && !(r->user = strdup(user)))) {
        free(r);
        json_decref(root);
        return NULL;
    }
    r->conn = conn;
    r->root = root;
    conn_t *c = conn_find(conn);
    if (c)
        conn_request_started(c);
    r->id = json_object_get(root, "id");
    r->type = type;
    outstanding++;
    return r;
}

long req_outstanding(void) { return outstanding; }

static void req_free(req_t *r)
{
    outstanding--;
    conn_t *c = conn_find(r->conn);
    if (c)
        conn_request_done(c);
    json_decref(r->root);
    free(r->user);
    free(r);
}

const char *req_type(const req_t *r) { return r->type; }
const char *req_user(const req_t *r) { return r->user; }
uint64_t req_conn(const req_t *r) { return r->conn; }
json_t *req_json(const req_t *r) { return r->root; }

void req_set_user(req_t *r, const char *user)
{
    char *copy = user ? strdup(user) : NULL;
    free(r->user);
    r->user = copy;
}

static void req_send_text(req_t *r, const char *text)
{
    conn_t *c = conn_find(r->conn);
    if (c && text)
        conn_send_text(c, text, strlen(text));
}

/* The plain {"type":"ok","id":…} of most answers (signals, sends): written directly, without building an
 * object. */
static char *ok_text(const json_t *id)
{
    char *idtext = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    size_t n = idtext ? strlen(idtext) : 0;
    char *text = malloc(n + 24);
    if (text) {
        if (idtext)
            snprintf(text, n + 24, "{\"type\":\"ok\",\"id\":%s}", idtext);
        else
            snprintf(text, n + 24, "{\"type\":\"ok\"}");
    }
    free(idtext);
    return text;
}

/* The text of an ok answer with fields (stolen) merged in; NULL when out of memory. */
static char *ok_fields_text(const json_t *id, json_t *fields)
{
    json_t *o = json_object();
    if (o)
        json_object_update(o, fields);
    json_decref(fields);
    char *text = NULL;
    if (o) {
        json_object_set_new(o, "type", json_string("ok"));
        json_object_set(o, "id", (json_t *)id);
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    return text;
}

void req_ok(req_t *r, json_t *fields)
{
    char *text = fields ? ok_fields_text(r->id, fields) : ok_text(r->id);
    if (!text)
        log_error("conn %llu: out of memory answering %s", (unsigned long long)r->conn, r->type);
    req_send_text(r, text);
    free(text);
    metrics_request(r->type, "ok");
    req_free(r);
}

static void req_verror(req_t *r, const char *code, const char *field, long long retry_ms, const char *fmt,
                       va_list ap)
{
    char message[256];
    vsnprintf(message, sizeof message, fmt, ap);
    char *text = msg_error_text(r->id, code, field, retry_ms, message);
    req_send_text(r, text);
    free(text);
    log_debug("conn %llu: %s -> %s (%s)", (unsigned long long)r->conn, r->type, code, message);
    metrics_request(r->type, code);
    req_free(r);
}

void req_error(req_t *r, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    req_verror(r, code, NULL, 0, fmt, ap);
    va_end(ap);
}

void req_error_ex(req_t *r, const char *code, const char *field, long long retry_after_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    req_verror(r, code, field, retry_after_ms, fmt, ap);
    va_end(ap);
}

void req_store_error(req_t *r, const store_reply_t *rep)
{
    if (!rep) {
        req_error(r, E_UNAVAILABLE, "the store is unavailable; retry later");
        return;
    }
    size_t len = 0;
    const char *s = store_str(rep, &len);
    if (store_type(rep) == STORE_ERR && s) {
        const char *colon = memchr(s, ':', len);
        if (colon && msg_is_code(s, (size_t)(colon - s))) {
            char code[32];
            snprintf(code, sizeof code, "%.*s", (int)(colon - s), s);
            const char *m = colon + 1;
            while (*m == ' ')
                m++;
            /* code must be a static string for metrics: map it back to our table's entry */
            for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
                if (strcmp(codes[i], code) == 0) {
                    req_error(r, codes[i], "%s", m);
                    return;
                }
        }
        log_error("conn %llu: %s: store error: %.*s", (unsigned long long)r->conn, r->type, (int)(len > 300 ? 300 : len), s);
    } else {
        log_error("conn %llu: %s: unexpected store reply type %d", (unsigned long long)r->conn, r->type, (int)store_type(rep));
    }
    req_error(r, E_INTERNAL, "internal error");
}

/* ---------------- field getters ---------------- */

/* The field or NULL; JSON null counts as absent. */
static json_t *field_get(req_t *r, const char *field)
{
    json_t *v = json_object_get(r->root, field);
    return json_is_null(v) ? NULL : v;
}

/* The field's value in *v: 1 if present, 0 if absent and optional, -1 (r answered bad_request) if absent
 * and required. */
static int field_present(req_t *r, const char *field, int required, json_t **v)
{
    *v = field_get(r, field);
    if (*v)
        return 1;
    if (!required)
        return 0;
    req_error_ex(r, E_BAD_REQUEST, field, 0, "missing field '%s'", field);
    return -1;
}

int req_str(req_t *r, const char *field, size_t minlen, size_t maxlen, int required, const char **out)
{
    json_t *v;
    int present = field_present(r, field, required, &v);
    if (present <= 0)
        return present;
    if (!json_is_string(v)) {
        req_error_ex(r, E_BAD_REQUEST, field, 0, "'%s' must be a string", field);
        return -1;
    }
    size_t n = utf8_chars(json_string_value(v), json_string_length(v));
    if (n < minlen || n > maxlen || strlen(json_string_value(v)) != json_string_length(v)) {
        req_error_ex(r, E_BAD_REQUEST, field, 0, "'%s' must be %zu-%zu characters", field, minlen, maxlen);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int req_int(req_t *r, const char *field, long long min, long long max, int required, long long *out)
{
    json_t *v;
    int present = field_present(r, field, required, &v);
    if (present <= 0)
        return present;
    if (!json_is_integer(v)) {
        req_error_ex(r, E_BAD_REQUEST, field, 0, "'%s' must be an integer", field);
        return -1;
    }
    long long n = (long long)json_integer_value(v);
    if (n < min || n > max) {
        req_error_ex(r, E_BAD_REQUEST, field, 0, "'%s' must be in [%lld, %lld]", field, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

int req_bool(req_t *r, const char *field, int required, int *out)
{
    json_t *v;
    int present = field_present(r, field, required, &v);
    if (present <= 0)
        return present;
    if (!json_is_boolean(v)) {
        req_error_ex(r, E_BAD_REQUEST, field, 0, "'%s' must be true or false", field);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* ---------------- raw members of the frame (pass-through without re-serialising) ---------------- */

void msg_set_frame(const req_t *r, const char *buf, size_t len)
{
    frame_req = r;
    frame_buf = buf;
    frame_len = len;
    frame_member_name = NULL;
}

void msg_set_frame_member(const char *name, const char *text, size_t len)
{
    frame_member_name = name;
    frame_member = text;
    frame_member_len = len;
}

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* s[i] is '"': the index just past the closing quote, or n. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n;
}

/* The index just past the JSON value starting at s[i] (already validated by the parser). */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    if (i < n && s[i] == '"')
        return skip_string(s, i, n);
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        int depth = 0;
        while (i < n) {
            char ch = s[i];
            if (ch == '"') {
                i = skip_string(s, i, n);
                continue;
            }
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
           s[i] != '\r')
        i++;
    return i;
}

int msg_raw_member(const char *s, size_t n, const char *name, const char **vp, size_t *vlen)
{
    size_t want = strlen(name), i = skip_ws(s, 0, n);
    int found = 0;
    if (i >= n || s[i] != '{')
        return -1;
    i = skip_ws(s, i + 1, n);
    while (i < n && s[i] == '"') {
        size_t kend = skip_string(s, i, n);
        /* A key spelt with escapes never matches: the caller then falls back to the parsed value. */
        int match = kend - i == want + 2 && memcmp(s + i + 1, name, want) == 0;
        i = skip_ws(s, kend, n);
        if (i >= n || s[i] != ':')
            return -1;
        i = skip_ws(s, i + 1, n);
        size_t vend = skip_value(s, i, n);
        if (match) { /* the last one wins, as in the parsed object */
            *vp = s + i;
            *vlen = vend - i;
            found = 1;
        }
        i = skip_ws(s, vend, n);
        if (i < n && s[i] == ',')
            i = skip_ws(s, i + 1, n);
    }
    return found ? 0 : -1;
}

int req_raw_member(const req_t *r, const char *field, const char **vp, size_t *vlen)
{
    if (r != frame_req || !frame_buf)
        return -1;
    if (frame_member_name && strcmp(field, frame_member_name) == 0) {
        *vp = frame_member;
        *vlen = frame_member_len;
        return 0;
    }
    return msg_raw_member(frame_buf, frame_len, field, vp, vlen);
}
