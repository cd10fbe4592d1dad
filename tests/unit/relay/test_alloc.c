/* test_alloc.c — the allocation table: 5-tuples, permissions, channels, sweeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"

static int released;
static void count_release(alloc_t *a, void *ctx)
{
    (void)a;
    (void)ctx;
    released++;
}

static void test_table(void **s)
{
    (void)s;
    alloc_table_t *t = alloc_table_new();
    turn_client_t c = {.transport = TURN_UDP};
    addr_parse("192.0.2.1", 1000, &c.remote);
    addr_parse("127.0.0.1", 3478, &c.local);
    turn_client_t tcp = c, other = c;
    tcp.transport = TURN_TCP;
    other.remote.port = 1001;
    assert_null(alloc_find(t, &c));
    alloc_t *a = alloc_add(t, &c), *b = alloc_add(t, &tcp);
    assert_ptr_equal(alloc_find(t, &c), a);
    assert_ptr_equal(alloc_find(t, &tcp), b);
    assert_null(alloc_find(t, &other));
    assert_int_equal(alloc_count(t), 2);
    a->expires = 100;
    b->expires = 200;
    released = 0;
    assert_int_equal(alloc_sweep(t, 150, count_release, NULL), 1);
    assert_int_equal(released, 1);
    assert_null(alloc_find(t, &c));
    alloc_remove(t, b);
    assert_int_equal(alloc_count(t), 0);
    alloc_add(t, &other);
    released = 0;
    alloc_table_free(t, count_release, NULL);
    assert_int_equal(released, 1);
}

static void test_perms_and_channels(void **s)
{
    (void)s;
    alloc_table_t *t = alloc_table_new();
    turn_client_t c = {.transport = TURN_UDP};
    alloc_t *a = alloc_add(t, &c);
    addr_t p1, p1b, p2;
    addr_parse("203.0.113.1", 5, &p1);
    addr_parse("203.0.113.1", 6, &p1b);
    addr_parse("203.0.113.2", 5, &p2);
    assert_int_equal(alloc_perm_set(a, &p1, 100, 0), 0);
    assert_non_null(alloc_perm_find(a, &p1b, 99)); /* any port of the IP */
    assert_null(alloc_perm_find(a, &p1, 100));     /* expired at its time */
    assert_null(alloc_perm_find(a, &p2, 0));
    assert_int_equal(alloc_perm_set(a, &p1, 300, 0), 0); /* refresh, not a second entry */
    assert_int_equal(a->nperms, 1);
    for (int i = 0; i < ALLOC_MAX_PERMS - 1; i++) {
        addr_t x = p2;
        x.ip[3] = (uint8_t)(10 + i);
        assert_int_equal(alloc_perm_set(a, &x, 50, 0), 0);
    }
    addr_t extra = p2;
    extra.ip[2] = 99;
    assert_int_equal(alloc_perm_set(a, &extra, 400, 10), -1); /* full */
    assert_int_equal(alloc_perm_set(a, &extra, 400, 60), 0);  /* expired ones make room */
    assert_int_equal(alloc_chan_set(a, 0x4000, &p1, 600, 0), 0);
    assert_non_null(alloc_chan_by_number(a, 0x4000, 10));
    assert_non_null(alloc_chan_by_peer(a, &p1, 10));
    assert_null(alloc_chan_by_peer(a, &p1b, 10)); /* channels are per transport address */
    assert_null(alloc_chan_by_number(a, 0x4000, 600));
    a->expires = 1000;
    alloc_sweep(t, 700, NULL, NULL); /* trims the expired channel and permissions */
    assert_int_equal(a->nchans, 0);
    assert_int_equal(a->nperms, 0);
    alloc_table_free(t, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_perms_and_channels),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
