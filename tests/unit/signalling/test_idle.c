/* test_idle.c — the idle tracker: who is pinged and who is dropped, in order, touching only due nodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "idle.h"

typedef struct {
    int id;
    idle_node_t node;
} item_t;

static int id_of(idle_node_t *n) { return n ? IDLE_CONTAINER(n, item_t, node)->id : -1; }

static void nothing_due_while_recent(void **state)
{
    (void)state;
    idle_t t;
    idle_init(&t);
    item_t a = {1, {0}}, b = {2, {0}};
    idle_touch(&t, &a.node, 100);
    idle_touch(&t, &b.node, 200);
    assert_int_equal(idle_count(&t), 2);
    assert_null(idle_ping_due(&t, 1099, 1000));
    assert_null(idle_expired(&t, 5000, 2000)); /* nobody was pinged yet */
    assert_int_equal(id_of(idle_ping_due(&t, 1100, 1000)), 1);
    assert_null(idle_ping_due(&t, 1100, 1000)); /* b is 900 ms quiet */
    assert_int_equal(id_of(idle_ping_due(&t, 1200, 1000)), 2);
}

static void oldest_first_and_activity_moves_to_tail(void **state)
{
    (void)state;
    idle_t t;
    idle_init(&t);
    item_t it[4] = {{0, {0}}, {1, {0}}, {2, {0}}, {3, {0}}};
    for (int i = 0; i < 4; i++)
        idle_touch(&t, &it[i].node, (uint64_t)i * 10);
    idle_touch(&t, &it[0].node, 50); /* 0 spoke again: now the most recent */
    int order[4];
    for (int i = 0; i < 4; i++)
        order[i] = id_of(idle_ping_due(&t, 10000, 1000));
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 3);
    assert_int_equal(order[3], 0);
    assert_null(idle_ping_due(&t, 10000, 1000));
    assert_int_equal(idle_count(&t), 4);
}

static void pinged_then_answered_is_not_dropped(void **state)
{
    (void)state;
    idle_t t;
    idle_init(&t);
    item_t a = {1, {0}}, b = {2, {0}};
    idle_touch(&t, &a.node, 0);
    idle_touch(&t, &b.node, 0);
    assert_int_equal(id_of(idle_ping_due(&t, 1000, 1000)), 1);
    assert_int_equal(id_of(idle_ping_due(&t, 1000, 1000)), 2);
    idle_touch(&t, &a.node, 1500); /* a's pong */
    assert_null(idle_expired(&t, 1999, 2000));
    assert_int_equal(id_of(idle_expired(&t, 2000, 2000)), 2);
    assert_null(idle_expired(&t, 3000, 2000));
    assert_int_equal(idle_count(&t), 1);
    assert_int_equal(b.node.list, IDLE_NONE);
    /* a is back in active: pinged again only after another quiet second */
    assert_null(idle_ping_due(&t, 2499, 1000));
    assert_int_equal(id_of(idle_ping_due(&t, 2500, 1000)), 1);
    assert_int_equal(id_of(idle_expired(&t, 3500, 2000)), 1);
    assert_int_equal(idle_count(&t), 0);
}

static void remove_from_either_list_and_twice(void **state)
{
    (void)state;
    idle_t t;
    idle_init(&t);
    item_t a = {1, {0}}, b = {2, {0}}, c = {3, {0}};
    idle_touch(&t, &a.node, 0);
    idle_touch(&t, &b.node, 0);
    idle_touch(&t, &c.node, 0);
    assert_int_equal(id_of(idle_ping_due(&t, 1000, 1000)), 1);
    idle_remove(&t, &a.node); /* from pinged */
    idle_remove(&t, &b.node); /* from active */
    idle_remove(&t, &b.node); /* no-op */
    assert_int_equal(idle_count(&t), 1);
    assert_null(idle_expired(&t, 99999, 2000));
    assert_int_equal(id_of(idle_ping_due(&t, 99999, 1000)), 3);
    assert_int_equal(id_of(idle_expired(&t, 99999, 2000)), 3);
    assert_int_equal(idle_count(&t), 0);
    idle_touch(&t, &b.node, 100000); /* a removed node can come back */
    assert_int_equal(idle_count(&t), 1);
}

static void a_clock_read_before_a_touch_is_not_due(void **state)
{
    (void)state;
    idle_t t;
    idle_init(&t);
    item_t a = {1, {0}};
    idle_touch(&t, &a.node, 5000);
    assert_null(idle_ping_due(&t, 4000, 0)); /* now < last: never "due" through wrap-around */
}

static void work_is_only_the_due_nodes(void **state)
{
    (void)state;
    enum { N = 100000 };
    static item_t items[N];
    idle_t t;
    idle_init(&t);
    for (int i = 0; i < N; i++) {
        items[i].id = i;
        idle_touch(&t, &items[i].node, (uint64_t)i);
    }
    /* at 1005 with a 1000 ms interval exactly 0..5 are due; the rest are never looked at */
    int n = 0;
    while (idle_ping_due(&t, 1005, 1000))
        n++;
    assert_int_equal(n, 6);
    assert_int_equal(idle_count(&t), N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_due_while_recent),
        cmocka_unit_test(oldest_first_and_activity_moves_to_tail),
        cmocka_unit_test(pinged_then_answered_is_not_dropped),
        cmocka_unit_test(remove_from_either_list_and_twice),
        cmocka_unit_test(a_clock_read_before_a_touch_is_not_due),
        cmocka_unit_test(work_is_only_the_due_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
