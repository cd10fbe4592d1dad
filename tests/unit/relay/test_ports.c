/* test_ports.c — the relay port pool: range, exhaustion, EVEN-PORT and reservation tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ports.h"

static void test_range_and_exhaustion(void **s)
{
    (void)s;
    ports_t *p = ports_new(50000, 50003, 99);
    int seen[4] = {0};
    for (int i = 0; i < 4; i++) {
        int port = ports_take(p, 0);
        assert_true(port >= 50000 && port <= 50003);
        assert_false(seen[port - 50000]);
        seen[port - 50000] = 1;
    }
    assert_int_equal(ports_take(p, 0), -1);
    assert_int_equal(ports_in_use(p), 4);
    ports_release(p, 50002);
    assert_int_equal(ports_take(p, 0), 50002);
    ports_release(p, 40000); /* outside: ignored */
    ports_release(p, 50001);
    ports_release(p, 50001); /* twice: counted once */
    assert_int_equal(ports_in_use(p), 3);
    ports_free(p);
    assert_null(ports_new(10, 9, 1));
    assert_null(ports_new(0, 9, 1));
}

static void test_even_and_token(void **s)
{
    (void)s;
    ports_t *p = ports_new(50001, 50010, 5);
    uint8_t tok[PORTS_TOKEN_LEN], tok2[PORTS_TOKEN_LEN];
    int port = ports_take_even(p, 1, 1000, tok, 4);
    assert_true(port % 2 == 0 && port >= 50002 && port + 1 <= 50010);
    assert_int_equal(ports_in_use(p), 2);
    assert_int_equal(ports_token_family(p, tok, 1000), 4);
    memcpy(tok2, tok, sizeof tok);
    tok2[0] ^= 1;
    assert_int_equal(ports_token_family(p, tok2, 1000), -1);
    assert_int_equal(ports_take_token(p, tok2, 1000), -1);
    assert_int_equal(ports_take_token(p, tok, 1000), port + 1);
    assert_int_equal(ports_take_token(p, tok, 1000), -1); /* once */
    assert_int_equal(ports_in_use(p), 2);
    /* A reservation nobody claims expires after PORTS_RESERVE_MS and its port is free again. */
    int p2 = ports_take_even(p, 1, 2000, tok, 6);
    assert_true(p2 > 0);
    assert_int_equal(ports_in_use(p), 4);
    assert_int_equal(ports_take_token(p, tok, 2000 + PORTS_RESERVE_MS), -1);
    assert_int_equal(ports_in_use(p), 3);
    ports_free(p);
    /* Odd-only range: no even port. */
    p = ports_new(50001, 50001, 1);
    assert_int_equal(ports_take_even(p, 0, 0, tok, 4), -1);
    ports_free(p);
    /* An even port whose successor is outside the range does not qualify. */
    p = ports_new(50000, 50000, 1);
    assert_int_equal(ports_take_even(p, 0, 0, tok, 4), -1);
    ports_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_and_exhaustion),
        cmocka_unit_test(test_even_and_token),
    };
    return cmocka_run_group_tests_name("ports", tests, NULL, NULL);
}
