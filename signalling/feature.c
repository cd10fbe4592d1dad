/* feature.c — ids and library-function answers shared by the feature modules (see feature.h). */
#include "feature.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int feature_id_new(char out[FEATURE_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[FEATURE_ID_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[FEATURE_ID_LEN] = '\0';
    return 0;
}

int feature_id_valid(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n == FEATURE_ID_LEN && s[n] == '\0';
}

char *feature_ids_pg_array(const json_t *ids, const json_t *langs, const char *lang)
{
    size_t n = json_array_size(ids);
    char *out = malloc(n * (FEATURE_ID_LEN + 3) + 3), *p = out;
    if (!out)
        return NULL;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (!id || !feature_id_valid(id))
            continue;
        if (langs) {
            const char *l = json_string_value(json_array_get(langs, i));
            if (!l || strcmp(l, lang) != 0)
                continue;
        }
        p += sprintf(p, "%s\"%s\"", p > out + 1 ? "," : "", id);
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

int feature_stream_id_valid(const char *s)
{
    size_t ms = strspn(s, "0123456789");
    if (ms < 1 || ms > 20 || s[ms] != '-')
        return 0;
    size_t seq = strspn(s + ms + 1, "0123456789");
    return seq >= 1 && seq <= 20 && s[ms + 1 + seq] == '\0';
}

int feature_req_id(req_t *r, const char *field, int stream, int required, const char **out)
{
    const char *v = NULL;
    /* 41 = 20 digits, '-', 20 digits: the longest stream id */
    if (req_str(r, field, 1, stream ? 41 : FEATURE_ID_LEN, required, &v) < 0)
        return -1;
    if (!v)
        return 0;
    if (stream ? !feature_stream_id_valid(v) : !feature_id_valid(v)) {
        req_error_ex(r, E_BAD_REQUEST, field, 0, "%s is not a valid %s id", field,
                        stream ? "message" : "circle or channel");
        return -1;
    }
    *out = v;
    return 0;
}

int feature_req_enum(req_t *r, const char *field, const char *const *allowed, int required,
                     const char **out)
{
    const char *v = NULL;
    if (req_str(r, field, 1, 32, required, &v) < 0)
        return -1;
    if (!v)
        return 0;
    for (const char *const *a = allowed; *a; a++) {
        if (strcmp(v, *a) == 0) {
            *out = v;
            return 0;
        }
    }
    req_error_ex(r, E_BAD_REQUEST, field, 0, "%s: '%s' is not one of the allowed values", field, v);
    return -1;
}

typedef struct {
    req_t *r;
    feature_then_fn then; /* NULL: answer only */
    void *priv;
} eval_t;

/* The function's reply as the answer's fields (a new reference; {} for an empty reply), or NULL: a store
 * error, or (*script_bug set, logged) a reply that is not a JSON object. Answers nothing. */
static json_t *reply_fields(req_t *r, const store_reply_t *rep, int *script_bug)
{
    *script_bug = 0;
    if (!rep || store_type(rep) != STORE_STR)
        return NULL;
    size_t len = 0;
    const char *text = store_str(rep, &len);
    if (len == 0)
        return json_object();
    json_error_t jerr;
    json_t *fields = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(fields)) {
        log_error("feature: %s: library function answer is not a JSON object: %s", req_type(r), jerr.text);
        json_decref(fields);
        *script_bug = 1;
        return NULL;
    }
    return fields;
}

static void eval_cb(const store_reply_t *rep, void *arg)
{
    eval_t e = *(eval_t *)arg;
    free(arg);
    int script_bug;
    json_t *fields = reply_fields(e.r, rep, &script_bug);
    if (e.then)
        e.then(e.r, fields, e.priv); /* while r is still alive: the answer frees it */
    if (fields)
        req_ok(e.r, fields);
    else if (script_bug)
        req_error(e.r, E_INTERNAL, "internal error");
    else
        req_store_error(e.r, rep);
}

static void eval_with(req_t *r, const char *fn, int nkeys, int nargs, const char **args, feature_then_fn then,
                      void *priv, int durable)
{
    eval_t *e = malloc(sizeof *e);
    if (!e) {
        if (then)
            then(r, NULL, priv);
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    *e = (eval_t){r, then, priv};
    if (durable)
        store_fcall_durable(fn, eval_cb, e, nkeys, nargs, args);
    else
        store_fcall(fn, eval_cb, e, nkeys, nargs, args);
}

static void eval(req_t *r, const char *fn, int nkeys, int nargs, const char **args, feature_then_fn then,
                 void *priv)
{
    eval_with(r, fn, nkeys, nargs, args, then, priv, 0);
}

void feature_eval_answer_durable(req_t *r, const char *fn, int nkeys, int nargs, const char **args)
{
    eval_with(r, fn, nkeys, nargs, args, NULL, NULL, 1);
}

void feature_eval_answer(req_t *r, const char *fn, int nkeys, int nargs, const char **args)
{
    eval(r, fn, nkeys, nargs, args, NULL, NULL);
}

void feature_eval_then(req_t *r, const char *fn, int nkeys, int nargs, const char **args, feature_then_fn then,
                       void *priv)
{
    eval(r, fn, nkeys, nargs, args, then, priv);
}

char *feature_event_with_data(req_t *r, const char *head, json_t *data, size_t *len)
{
    const char *raw;
    size_t rawlen;
    char *dumped = NULL;
    if (req_raw_member(r, "data", &raw, &rawlen) < 0) {
        if (!(dumped = json_dumps(data, JSON_COMPACT)))
            return NULL;
        raw = dumped;
        rawlen = strlen(dumped);
    }
    size_t hlen = strlen(head);
    char *text = malloc(hlen + 8 + rawlen + 2);
    if (text) {
        memcpy(text, head, hlen);
        memcpy(text + hlen, ",\"data\":", 8);
        memcpy(text + hlen + 8, raw, rawlen);
        text[hlen + 8 + rawlen] = '}';
        text[hlen + 8 + rawlen + 1] = '\0';
        *len = hlen + 8 + rawlen + 1;
    }
    free(dumped);
    return text;
}
