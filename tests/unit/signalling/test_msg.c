/* test_msg.c — the request envelope: msg_parse on good and bad frames, the field getters' answers
 * (bad_request naming the field), ok/error answers, and dispatch's checks (unknown type, sign-in
 * required). Answers are captured through conn's test sink (a connection without a socket). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "conn.h"
#include "accounts.h"
#include "dispatch.h"
#include "module.h"
#include "presence.h"
#include "msg.h"

static char last[4096];
static int nsent;

static void sink(uint64_t id, const char *text, size_t len)
{
    (void)id;
    snprintf(last, sizeof last, "%.*s", (int)len, text);
    nsent++;
}

/* The last answer as JSON (new reference). */
static json_t *answer(void)
{
    json_t *j = json_loads(last, 0, NULL);
    assert_non_null(j);
    return j;
}

static void assert_error(const char *code, const char *field)
{
    json_t *j = answer();
    assert_string_equal(json_string_value(json_object_get(j, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(j, "code")), code);
    if (field)
        assert_string_equal(json_string_value(json_object_get(j, "field")), field);
    json_decref(j);
}

static void parse_accepts_a_request(void **state)
{
    (void)state;
    msg_parsed_t p;
    const char *t = "{\"type\":\"ping\",\"id\":7}";
    assert_int_equal(msg_parse(t, strlen(t), &p), 0);
    assert_string_equal(p.type, "ping");
    assert_int_equal(json_integer_value(p.id), 7);
    msg_parsed_clear(&p);
    t = "{\"type\":\"x\",\"id\":\"abc\"} trailing";
    assert_int_equal(msg_parse(t, strlen("{\"type\":\"x\",\"id\":\"abc\"}"), &p), 0); /* len, not NUL, ends it */
    assert_string_equal(json_string_value(p.id), "abc");
    msg_parsed_clear(&p);
}

static void expect_bad(const char *t, const char *field, int id_read)
{
    msg_parsed_t p;
    assert_int_equal(msg_parse(t, strlen(t), &p), -1);
    assert_string_equal(p.code, E_BAD_REQUEST);
    assert_string_equal(p.field, field);
    assert_true(id_read ? p.id != NULL : p.id == NULL);
    msg_parsed_clear(&p);
}

static void parse_rejects_bad_frames(void **state)
{
    (void)state;
    expect_bad("{bad", "", 0);
    expect_bad("", "", 0);
    expect_bad("[1,2]", "", 0);
    expect_bad("\"text\"", "", 0);
    expect_bad("42", "", 0);
    expect_bad("{\"id\":1}", "type", 1);
    expect_bad("{\"id\":1,\"type\":5}", "type", 1);
    expect_bad("{\"id\":1,\"type\":\"\"}", "type", 1);
    expect_bad("{\"type\":\"ping\"}", "id", 0);
    expect_bad("{\"type\":\"ping\",\"id\":true}", "id", 0);
    expect_bad("{\"type\":\"ping\",\"id\":\"\"}", "id", 0);
    char longid[128];
    snprintf(longid, sizeof longid, "{\"type\":\"ping\",\"id\":\"%065d\"}", 0);
    expect_bad(longid, "id", 0);
    expect_bad("{\"type\":\"a\",\"type\":\"b\",\"id\":1}", "", 0); /* duplicate keys */
    expect_bad("{\"type\":\"ping\",\"id\":1,\"x\":\"\xff\"}", "", 0); /* invalid UTF-8 */
}

/* PROTOCOL.md counts lengths in characters: an id of 64 two-byte or four-byte characters is valid. */
static void id_length_counts_characters(void **state)
{
    (void)state;
    char t[512], id[300];
    const char *chars[] = {"\xc3\xa9", "\xf0\x9f\x98\x80"}; /* é, 😀 */
    for (int k = 0; k < 2; k++) {
        for (int n = 64; n <= 65; n++) {
            id[0] = '\0';
            for (int i = 0; i < n; i++)
                strcat(id, chars[k]);
            snprintf(t, sizeof t, "{\"type\":\"ping\",\"id\":\"%s\"}", id);
            msg_parsed_t p;
            int rc = msg_parse(t, strlen(t), &p);
            assert_int_equal(rc, n == 64 ? 0 : -1);
            if (n == 64) {
                assert_string_equal(json_string_value(p.id), id);
                /* the lazy parser of the signal fast path agrees */
                msg_parsed_t q;
                assert_int_equal(msg_parse_passthrough(t, strlen(t), "data", &q), 0);
                msg_parsed_clear(&q);
            } else {
                assert_string_equal(p.field, "id");
            }
            msg_parsed_clear(&p);
        }
    }
}

/* A valid frame with U+0000 in a string: bad_request naming the member, with the request's id. */
static void nul_in_a_string_is_refused_with_the_id(void **state)
{
    (void)state;
    expect_bad("{\"type\":\"ping\",\"id\":\"n1\",\"note\":\"a\\u0000b\"}", "note", 1);
    expect_bad("{\"type\":\"ping\",\"id\":5,\"deep\":{\"x\":[1,\"\\u0000\"]}}", "deep", 1);
    expect_bad("{\"type\":\"pi\\u0000ng\",\"id\":5}", "type", 1);
    /* an id holding U+0000 is no valid id: nothing to echo */
    expect_bad("{\"type\":\"ping\",\"id\":\"a\\u0000\"}", "id", 0);
    msg_parsed_t p;
    const char *t = "{\"type\":\"ping\",\"id\":\"n1\",\"note\":\"a\\u0000b\"}";
    assert_int_equal(msg_parse(t, strlen(t), &p), -1);
    assert_string_equal(json_string_value(p.id), "n1");
    msg_parsed_clear(&p);
}

static void error_text_has_every_member(void **state)
{
    (void)state;
    json_t *id = json_string("r1");
    char *t = msg_error_text(id, E_RATE_LIMITED, "name", 1500, "slow down");
    json_t *j = json_loads(t, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "r1");
    assert_string_equal(json_string_value(json_object_get(j, "code")), "rate_limited");
    assert_string_equal(json_string_value(json_object_get(j, "field")), "name");
    assert_int_equal(json_integer_value(json_object_get(j, "retry_after_ms")), 1500);
    json_decref(j);
    free(t);
    t = msg_error_text(NULL, E_BAD_REQUEST, NULL, 0, "x");
    j = json_loads(t, 0, NULL);
    assert_true(json_is_null(json_object_get(j, "id")));
    assert_null(json_object_get(j, "field"));
    json_decref(j);
    free(t);
    json_decref(id);
    assert_true(msg_is_code("forbidden", 9));
    assert_false(msg_is_code("forbid", 6));
}

/* A request from connection c with body text. */
static req_t *mkreq(conn_t *c, const char *text)
{
    json_t *root = json_loads(text, 0, NULL);
    assert_non_null(root);
    return req_new(conn_id(c), NULL, root, "test.type");
}

static void getters_answer_bad_request_naming_the_field(void **state)
{
    (void)state;
    conn_t *c = conn_new(NULL, "127.0.0.1");
    const char *s = "unchanged";
    long long n = -1;
    int b = -1;

    req_t *r = mkreq(c, "{\"type\":\"t\",\"id\":1}");
    assert_int_equal(req_str(r, "name", 1, 10, 1, &s), -1);
    assert_error("bad_request", "name");

    r = mkreq(c, "{\"type\":\"t\",\"id\":1,\"name\":5}");
    assert_int_equal(req_str(r, "name", 1, 10, 1, &s), -1);
    assert_error("bad_request", "name");

    r = mkreq(c, "{\"type\":\"t\",\"id\":1,\"name\":\"elevenchars\"}");
    assert_int_equal(req_str(r, "name", 1, 10, 1, &s), -1);
    assert_error("bad_request", "name");

    /* lengths count characters, not bytes: three two-byte characters fit in 3 */
    r = mkreq(c, "{\"type\":\"t\",\"id\":1,\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\",\"opt\":null}");
    assert_int_equal(req_str(r, "name", 1, 3, 1, &s), 0);
    assert_string_equal(s, "\xc3\xa9\xc3\xa9\xc3\xa9");
    const char *o = "kept";
    assert_int_equal(req_str(r, "opt", 1, 3, 0, &o), 0);  /* null counts as absent */
    assert_string_equal(o, "kept");
    assert_int_equal(req_int(r, "count", 0, 5, 0, &n), 0); /* absent optional */
    assert_int_equal(n, -1);
    req_ok(r, NULL);

    r = mkreq(c, "{\"type\":\"t\",\"id\":1,\"limit\":500}");
    assert_int_equal(req_int(r, "limit", 1, 100, 1, &n), -1);
    assert_error("bad_request", "limit");
    r = mkreq(c, "{\"type\":\"t\",\"id\":1,\"limit\":1.5}");
    assert_int_equal(req_int(r, "limit", 1, 100, 1, &n), -1);
    assert_error("bad_request", "limit");
    r = mkreq(c, "{\"type\":\"t\",\"id\":1,\"flag\":\"yes\"}");
    assert_int_equal(req_bool(r, "flag", 1, &b), -1);
    assert_error("bad_request", "flag");
    r = mkreq(c, "{\"type\":\"t\",\"id\":1,\"flag\":true,\"limit\":100}");
    assert_int_equal(req_bool(r, "flag", 1, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(req_int(r, "limit", 1, 100, 1, &n), 0);
    assert_int_equal(n, 100);
    req_ok(r, NULL);

    assert_int_equal(req_outstanding(), 0);
    conn_closed(c);
}

static void ok_merges_fields_and_keeps_the_id(void **state)
{
    (void)state;
    conn_t *c = conn_new(NULL, "127.0.0.1");
    req_t *r = mkreq(c, "{\"type\":\"t\",\"id\":\"abc\"}");
    req_ok(r, json_pack("{s:s,s:i}", "type", "sneaky", "n", 3));
    json_t *j = answer();
    assert_string_equal(json_string_value(json_object_get(j, "type")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "abc");
    assert_int_equal(json_integer_value(json_object_get(j, "n")), 3);
    json_decref(j);

    r = mkreq(c, "{\"type\":\"t\",\"id\":2}");
    req_store_error(r, NULL); /* Redis down */
    assert_error("unavailable", NULL);

    /* an answer to a connection that is gone is dropped, and r is still freed */
    r = mkreq(c, "{\"type\":\"t\",\"id\":3}");
    conn_closed(c);
    int before = nsent;
    req_ok(r, NULL);
    assert_int_equal(nsent, before);
    assert_int_equal(req_outstanding(), 0);
}

static void dispatch_checks_type_and_sign_in(void **state)
{
    (void)state;
    conn_t *c = conn_new(NULL, "10.0.0.1");
    const char *t = "{\"type\":\"no.such\",\"id\":1}";
    dispatch_frame(c, t, strlen(t));
    assert_error("bad_request", "type");
    t = "{\"type\":\"profile.get\",\"id\":2}";
    dispatch_frame(c, t, strlen(t));
    assert_error("unauthorized", NULL);
    t = "{\"type\":\"ping\",\"id\":3}";
    dispatch_frame(c, t, strlen(t));
    json_t *j = answer();
    assert_string_equal(json_string_value(json_object_get(j, "type")), "ok");
    assert_true(json_is_true(json_object_get(j, "pong")));
    json_decref(j);
    t = "[]";
    dispatch_frame(c, t, strlen(t));
    assert_error("bad_request", NULL);
    assert_non_null(dispatch_find("auth.login"));
    assert_non_null(dispatch_find("presence.set"));
    assert_null(dispatch_find("auth"));
    conn_closed(c);
}

static void noop_handler(req_t *r) { req_ok(r, NULL); }

/* dispatch_init refuses a table where a handler has no rate class, two classes, or a type twice. */
static void dispatch_refuses_bad_tables(void **state)
{
    (void)state;
    static const handler_t none[] = {{"x.none", noop_handler, 0}, {NULL, NULL, 0}};
    static const handler_t two[] = {{"x.two", noop_handler, H_RL_MSG | H_RL_READ}, {NULL, NULL, 0}};
    static const handler_t dup[] = {{"ping", noop_handler, H_RL_READ}, {NULL, NULL, 0}};
    static const module_t m_none = {.name = "none", .handlers = none};
    static const module_t m_two = {.name = "two", .handlers = two};
    static const module_t m_dup = {.name = "dup", .handlers = dup};
    const module_t *bad[] = {&m_none, &m_two, &m_dup};
    for (size_t i = 0; i < 3; i++) {
        module_reset();
        module_register(&accounts_module);
        module_register(bad[i]);
        assert_int_equal(dispatch_init(), -1);
    }
    module_reset();
    module_register(&accounts_module);
    module_register(&presence_module);
    assert_int_equal(dispatch_init(), 0);
    assert_non_null(dispatch_find("presence.set"));
}

/* The raw text of a member, as the fast path passes it through: nested values, strings with escapes and
 * brackets, the last duplicate, whitespace; escaped keys and absent members are refused. */
static void raw_member_finds_the_exact_text(void **state)
{
    (void)state;
    const char *v;
    size_t n;
    const char *s = " { \"type\" : \"call.signal\", \"data\" : {\"a\":\"}]\\\"{\",\"b\":[1,{\"c\":null}]} , \"x\":1 }";
    assert_int_equal(msg_raw_member(s, strlen(s), "data", &v, &n), 0);
    assert_int_equal(n, strlen("{\"a\":\"}]\\\"{\",\"b\":[1,{\"c\":null}]}"));
    assert_memory_equal(v, "{\"a\":\"}]\\\"{\",\"b\":[1,{\"c\":null}]}", n);
    assert_int_equal(msg_raw_member(s, strlen(s), "x", &v, &n), 0);
    assert_memory_equal(v, "1", n);
    assert_int_equal(msg_raw_member(s, strlen(s), "nope", &v, &n), -1);
    const char *dup = "{\"data\":{\"v\":1},\"data\":{\"v\":2}}";
    assert_int_equal(msg_raw_member(dup, strlen(dup), "data", &v, &n), 0);
    assert_memory_equal(v, "{\"v\":2}", n);
    const char *esc = "{\"\\u0064ata\":{}}";
    assert_int_equal(msg_raw_member(esc, strlen(esc), "data", &v, &n), -1);
    assert_int_equal(msg_raw_member("[]", 2, "data", &v, &n), -1);
}

/* The lazy parse builds the same tree as jansson for every member it builds itself (strings without
 * escapes, short integers) and for those it hands to jansson; `data` objects stay text. */
static void lazy_parse_builds_what_jansson_builds(void **state)
{
    (void)state;
    const char *frames[] = {
        "{\"type\":\"call.signal\",\"id\":\"a\u00e9\",\"call\":\"x\",\"n\":-0,\"m\":123456789012345678}",
        "{\"type\":\"chat.send\",\"id\":9,\"text\":\"caf\xc3\xa9 \\\"q\\\"\",\"f\":1.5,\"b\":true,\"z\":null,\"l\":[1,\"2\"]}",
        "{\"type\":\"t\",\"id\":1,\"big\":-9223372036854775808,\"e\":1e3}",
    };
    for (size_t i = 0; i < sizeof frames / sizeof *frames; i++) {
        msg_parsed_t lazy, full;
        assert_int_equal(msg_parse_passthrough(frames[i], strlen(frames[i]), "data", &lazy), 0);
        assert_int_equal(msg_parse(frames[i], strlen(frames[i]), &full), 0);
        assert_true(json_equal(lazy.root, full.root));
        assert_int_equal(lazy.pass_stubbed, 0);
        msg_parsed_clear(&lazy);
        msg_parsed_clear(&full);
    }
    const char *sig = "{\"type\":\"call.signal\",\"id\":1,\"data\":{\"sdp\":\"v=0\"}}";
    msg_parsed_t p;
    assert_int_equal(msg_parse_passthrough(sig, strlen(sig), "data", &p), 0);
    assert_int_equal(p.pass_stubbed, 1);
    assert_int_equal(p.pass_len, strlen("{\"sdp\":\"v=0\"}"));
    assert_memory_equal(p.pass, "{\"sdp\":\"v=0\"}", p.pass_len);
    msg_parsed_clear(&p);
    const char *dup = "{\"type\":\"a\",\"type\":\"b\",\"id\":1}";
    assert_int_equal(msg_parse_passthrough(dup, strlen(dup), "data", &p), -1); /* the full parser decides */
    msg_parsed_clear(&p);
}

static signal_config_t cfg;

static int setup(void **state)
{
    (void)state;
    int rest[4], nrest;
    char err[256];
    char *argv[] = {"test", NULL};
    if (signal_config_load(&cfg, 1, argv, rest, &nrest, err, sizeof err) < 0)
        return -1;
    config_set_current(&cfg);
    conn_set_test_sink(sink);
    module_reset();
    module_register(&accounts_module);
    module_register(&presence_module);
    return dispatch_init();
}

static int teardown(void **state)
{
    (void)state;
    dispatch_free();
    signal_config_free(&cfg);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_accepts_a_request),
        cmocka_unit_test(parse_rejects_bad_frames),
        cmocka_unit_test(id_length_counts_characters),
        cmocka_unit_test(nul_in_a_string_is_refused_with_the_id),
        cmocka_unit_test(error_text_has_every_member),
        cmocka_unit_test(getters_answer_bad_request_naming_the_field),
        cmocka_unit_test(ok_merges_fields_and_keeps_the_id),
        cmocka_unit_test(dispatch_checks_type_and_sign_in),
        cmocka_unit_test(dispatch_refuses_bad_tables),
        cmocka_unit_test(raw_member_finds_the_exact_text),
        cmocka_unit_test(lazy_parse_builds_what_jansson_builds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
