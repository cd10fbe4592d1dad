/* test_connlist.c — per-connection item lists: items found by connection, several per connection, removal
 * from the front, middle and end, and clearing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "connlist.h"

typedef struct {
    int tag;
    connlist_link_t link;
} item_t;

static int count(const connlist_t *l, uint64_t conn)
{
    int n = 0;
    for (connlist_link_t *k = connlist_first(l, conn); k; k = k->next)
        n++;
    return n;
}

static void items_by_connection(void **state)
{
    (void)state;
    connlist_t l = {0};
    item_t a = {1, {NULL, 7}}, b = {2, {NULL, 7}}, c = {3, {NULL, 7}}, d = {4, {NULL, 9}};
    assert_null(connlist_first(&l, 7));
    assert_int_equal(connlist_add(&l, &a.link), 0);
    assert_int_equal(connlist_add(&l, &b.link), 0);
    assert_int_equal(connlist_add(&l, &c.link), 0);
    assert_int_equal(connlist_add(&l, &d.link), 0);
    assert_int_equal(count(&l, 7), 3);
    assert_int_equal(count(&l, 9), 1);
    assert_int_equal(CONNLIST_ITEM(connlist_first(&l, 9), item_t, link)->tag, 4);
    connlist_remove(&l, &b.link); /* middle */
    assert_int_equal(count(&l, 7), 2);
    connlist_remove(&l, &c.link); /* front (the latest added) */
    assert_int_equal(count(&l, 7), 1);
    assert_int_equal(CONNLIST_ITEM(connlist_first(&l, 7), item_t, link)->tag, 1);
    connlist_remove(&l, &a.link); /* the last one */
    assert_null(connlist_first(&l, 7));
    assert_int_equal(count(&l, 9), 1);
    connlist_clear(&l);
    assert_null(connlist_first(&l, 9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(items_by_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
