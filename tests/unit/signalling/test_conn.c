/* test_conn.c — the connection indexes: by user, by circle and by device stay exact across sign-in,
 * circle changes, sign-out and close; circle events reach exactly the members connected here; direct
 * (fast-path) delivery to a device of this node reaches that device through its kind's receiver. */
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

#define U1 "11111111111111111111111111111111"
#define U2 "22222222222222222222222222222222"
#define C1 "cccccccccccccccccccccccccccccc01"
#define C2 "cccccccccccccccccccccccccccccc02"

static int nsent;
static uint64_t last_to;
static void sink(uint64_t id, const char *text, size_t len)
{
    (void)text;
    (void)len;
    nsent++;
    last_to = id;
}

static void count(conn_t *c, void *arg)
{
    (void)c;
    (*(int *)arg)++;
}

static int in_circle(const char *cid)
{
    int n = 0;
    conn_foreach_in_circle(cid, count, &n);
    return n;
}

static int of_user(const char *uid)
{
    int n = 0;
    conn_foreach(uid, count, &n);
    return n;
}

static void indexes_follow_sign_in_circles_and_sign_out(void **state)
{
    (void)state;
    conn_t *a = conn_new(NULL, "127.0.0.1"), *b = conn_new(NULL, "127.0.0.1"), *c = conn_new(NULL, "127.0.0.1");
    const char *both[] = {C1, C2}, *one[] = {C1};
    assert_int_equal(conn_sign_in(a, U1, "ada", both, 2), 0);
    assert_int_equal(conn_sign_in(b, U1, "ada", both, 2), 0); /* a second device of the same user */
    assert_int_equal(conn_sign_in(c, U2, "bob", one, 1), 0);
    assert_int_equal(of_user(U1), 2);
    assert_int_equal(of_user(U2), 1);
    assert_int_equal(in_circle(C1), 3);
    assert_int_equal(in_circle(C2), 2);
    assert_true(conn_in_circle(c, C1));
    assert_false(conn_in_circle(c, C2));

    conn_set_circle(a, C2, 0); /* leaves one circle */
    assert_int_equal(in_circle(C2), 1);
    conn_set_circle(c, C2, 1); /* joins another */
    assert_int_equal(in_circle(C2), 2);
    conn_set_circle(c, C2, 1); /* twice is once */
    assert_int_equal(in_circle(C2), 2);

    conn_sign_out(b);
    assert_int_equal(of_user(U1), 1);
    assert_int_equal(in_circle(C1), 2);
    assert_int_equal(in_circle(C2), 1);
    assert_int_equal(conn_circle_count(b), 0);

    /* signing in as someone else moves the connection between users */
    assert_int_equal(conn_sign_in(a, U2, "bob", one, 1), 0);
    assert_int_equal(of_user(U1), 0);
    assert_int_equal(conn_user_count(U1), 0);
    assert_int_equal(of_user(U2), 2);

    conn_closed(a);
    conn_closed(c);
    assert_int_equal(in_circle(C1), 0);
    assert_int_equal(in_circle(C2), 0);
    assert_int_equal(conn_circle_members_here(C1), 0);
    assert_int_equal(of_user(U2), 0);
    conn_closed(b);
    assert_int_equal(conn_count(), 0);
}

static void device_ids_resolve_here_only(void **state)
{
    (void)state;
    conn_t *a = conn_new(NULL, "127.0.0.1");
    char dev[128];
    snprintf(dev, sizeof dev, "%s", conn_device(a));
    assert_ptr_equal(conn_find_device(dev), a);
    char other[160];
    snprintf(other, sizeof other, "elsewhere-%llu", (unsigned long long)conn_id(a));
    assert_null(conn_find_device(other)); /* same id on another node */
    assert_null(conn_find_device("garbage"));
    assert_null(conn_find_device("node-"));
    assert_null(conn_find_device("node-12x"));
    conn_closed(a);
    assert_null(conn_find_device(dev));
}

static void circle_events_reach_exactly_the_members_here(void **state)
{
    (void)state;
    conn_t *a = conn_new(NULL, "127.0.0.1"), *b = conn_new(NULL, "127.0.0.1"), *c = conn_new(NULL, "127.0.0.1");
    const char *one[] = {C1}, *two[] = {C2};
    conn_sign_in(a, U1, "ada", one, 1);
    conn_sign_in(b, U2, "bob", two, 1);
    nsent = 0;
    const char *ev = "{\"type\":\"presence\"}";
    bus_on_message("ev:c:" C1, ev, strlen(ev));
    assert_int_equal(nsent, 1);
    assert_int_equal(last_to, conn_id(a));
    bus_on_message("ev:c:" C2, ev, strlen(ev));
    assert_int_equal(nsent, 2);
    assert_int_equal(last_to, conn_id(b));
    bus_on_message("ev:c:nosuchcircle", ev, strlen(ev));
    assert_int_equal(nsent, 2);
    (void)c;
    conn_closed(a);
    conn_closed(b);
    conn_closed(c);
}

static int nreceived;
static char received_ctx[64];
static void receiver(conn_t *target, const char *ctx, const char *text, size_t len)
{
    nreceived++;
    snprintf(received_ctx, sizeof received_ctx, "%s", ctx);
    conn_send_text(target, text, len);
}

static void direct_delivery_on_this_node(void **state)
{
    (void)state;
    conn_t *a = conn_new(NULL, "127.0.0.1");
    assert_int_equal(bus_direct_register("test", receiver), 0);
    nsent = nreceived = 0;
    bus_direct("test", "call-1", conn_device(a), "{\"x\":1}", 7);
    assert_int_equal(nreceived, 1);
    assert_string_equal(received_ctx, "call-1");
    assert_int_equal(nsent, 1);
    assert_int_equal(last_to, conn_id(a));
    /* a message from another node through this node's channel */
    char payload[256];
    int n = snprintf(payload, sizeof payload, "test\ncall-2\n%s\n{\"x\":2}", conn_device(a));
    bus_on_message("ev:n:test-node", payload, (size_t)n);
    assert_int_equal(nreceived, 2);
    assert_string_equal(received_ctx, "call-2");
    /* malformed ones are dropped */
    bus_on_message("ev:n:test-node", "test\nno-device", 14);
    bus_on_message("ev:n:test-node", "nokind\nx\nnode-1\n{}", 18);
    assert_int_equal(nreceived, 2);
    conn_closed(a);
}

static signal_config_t cfg;

static int setup(void **state)
{
    (void)state;
    int rest[4], nrest;
    char err[256];
    char *argv[] = {"test", "--node-id", "test-node", NULL};
    if (signal_config_load(&cfg, 3, argv, rest, &nrest, err, sizeof err) < 0)
        return -1;
    config_set_current(&cfg);
    conn_set_test_sink(sink);
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
        cmocka_unit_test(indexes_follow_sign_in_circles_and_sign_out),
        cmocka_unit_test(device_ids_resolve_here_only),
        cmocka_unit_test(circle_events_reach_exactly_the_members_here),
        cmocka_unit_test(direct_delivery_on_this_node),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
