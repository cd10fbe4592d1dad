/* test_bus.c — delivery of events that arrive on a user's channel: verbatim to every device of the user,
 * or, with "to_device" / "not_device", to one device / all but one, stripped of the routing member; the
 * device hook (calls.c) sees exactly the targeted deliveries. Connections without a socket hand what they
 * would send to the test sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"
#include "config.h"
#include "conn.h"

#define MAXGOT 8
static struct { uint64_t conn; char text[512]; } got[MAXGOT];
static int ngot, nhook;

static void sink(uint64_t id, const char *text, size_t len)
{
    if (ngot < MAXGOT) {
        got[ngot].conn = id;
        snprintf(got[ngot].text, sizeof got[ngot].text, "%.*s", (int)len, text);
    }
    ngot++;
}

static void hook(conn_t *c, const json_t *ev)
{
    (void)c;
    assert_null(json_object_get(ev, BUS_TO_DEVICE));
    nhook++;
}

static conn_t *a, *b, *other;
static const char *UID = "0123456789abcdef0123456789abcdef";

static void deliver(const char *uid, const char *payload)
{
    char ch[64];
    snprintf(ch, sizeof ch, "ev:u:%s", uid);
    ngot = nhook = 0;
    bus_on_message(ch, payload, strlen(payload));
}

static void untargeted_events_reach_every_device_verbatim(void **state)
{
    (void)state;
    const char *ev = "{\"type\":\"call.incoming\",\"call\":\"c1\"}";
    deliver(UID, ev);
    assert_int_equal(ngot, 2);
    assert_string_equal(got[0].text, ev);
    assert_string_equal(got[1].text, ev);
    assert_int_equal(nhook, 0);
}

static void to_device_reaches_that_device_only_stripped(void **state)
{
    (void)state;
    char ev[256];
    snprintf(ev, sizeof ev, "{\"type\":\"call.signal\",\"call\":\"c1\",\"data\":{\"n\":1},\"to_device\":\"%s\"}", conn_device(b));
    deliver(UID, ev);
    assert_int_equal(ngot, 1);
    assert_int_equal(got[0].conn, conn_id(b));
    assert_null(strstr(got[0].text, "to_device"));
    assert_non_null(strstr(got[0].text, "\"data\":{\"n\":1}"));
    assert_int_equal(nhook, 1);
    /* a device id of nobody here: nothing is delivered */
    deliver(UID, "{\"type\":\"call.signal\",\"to_device\":\"elsewhere-9\"}");
    assert_int_equal(ngot, 0);
}

static void not_device_reaches_all_the_others(void **state)
{
    (void)state;
    char ev[256];
    snprintf(ev, sizeof ev, "{\"type\":\"call.answered_elsewhere\",\"call\":\"c1\",\"not_device\":\"%s\"}", conn_device(a));
    deliver(UID, ev);
    assert_int_equal(ngot, 1);
    assert_int_equal(got[0].conn, conn_id(b));
    assert_string_equal(got[0].text, "{\"type\":\"call.answered_elsewhere\",\"call\":\"c1\"}");
}

static void another_users_device_is_never_reached(void **state)
{
    (void)state;
    char ev[256];
    snprintf(ev, sizeof ev, "{\"type\":\"call.signal\",\"to_device\":\"%s\"}", conn_device(other));
    deliver(UID, ev); /* on UID's channel, naming a device of another user */
    assert_int_equal(ngot, 0);
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
    bus_set_device_hook(hook);
    a = conn_new(NULL, "127.0.0.1");
    b = conn_new(NULL, "127.0.0.1");
    other = conn_new(NULL, "127.0.0.1");
    if (!a || !b || !other || conn_sign_in(a, UID, "ada", NULL, 0) || conn_sign_in(b, UID, "ada", NULL, 0) ||
        conn_sign_in(other, "fedcba9876543210fedcba9876543210", "bob", NULL, 0))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    conn_free_all();
    bus_free_all();
    signal_config_free(&cfg);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(untargeted_events_reach_every_device_verbatim),
        cmocka_unit_test(to_device_reaches_that_device_only_stripped),
        cmocka_unit_test(not_device_reaches_all_the_others),
        cmocka_unit_test(another_users_device_is_never_reached),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
