/* test_strmap.c — the string hash: put/get/replace/delete, growth past many entries and shrinking back,
 * foreach visiting every entry once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "strmap.h"

static void put_get_replace_delete(void **state)
{
    (void)state;
    strmap_t *m = strmap_new();
    int a = 1, b = 2;
    assert_null(strmap_get(m, "x"));
    assert_int_equal(strmap_put(m, "x", &a), 0);
    assert_ptr_equal(strmap_get(m, "x"), &a);
    assert_int_equal(strmap_put(m, "x", &b), 0); /* replaces */
    assert_ptr_equal(strmap_get(m, "x"), &b);
    assert_int_equal(strmap_count(m), 1);
    assert_null(strmap_del(m, "y"));
    assert_ptr_equal(strmap_del(m, "x"), &b);
    assert_null(strmap_get(m, "x"));
    assert_int_equal(strmap_count(m), 0);
    strmap_free(m);
    strmap_free(NULL);
}

static void count_visit(const char *key, void *val, void *arg)
{
    (void)key;
    (void)val;
    (*(int *)arg)++;
}

static void grows_and_shrinks_keeping_every_entry(void **state)
{
    (void)state;
    enum { N = 20000 };
    static int vals[N];
    strmap_t *m = strmap_new();
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "user-%d", i);
        vals[i] = i;
        assert_int_equal(strmap_put(m, key, &vals[i]), 0);
    }
    assert_int_equal(strmap_count(m), N);
    int visited = 0;
    strmap_foreach(m, count_visit, &visited);
    assert_int_equal(visited, N);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "user-%d", i);
        assert_ptr_equal(strmap_get(m, key), &vals[i]);
    }
    for (int i = 0; i < N - 3; i++) { /* shrinking on the way down must keep the rest reachable */
        snprintf(key, sizeof key, "user-%d", i);
        assert_ptr_equal(strmap_del(m, key), &vals[i]);
    }
    assert_int_equal(strmap_count(m), 3);
    for (int i = N - 3; i < N; i++) {
        snprintf(key, sizeof key, "user-%d", i);
        assert_ptr_equal(strmap_get(m, key), &vals[i]);
    }
    strmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_get_replace_delete),
        cmocka_unit_test(grows_and_shrinks_keeping_every_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
