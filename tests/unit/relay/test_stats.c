/* test_stats.c — summing workers' counters and the Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

static void test_sum_and_format(void **s)
{
    (void)s;
    stats_t a, b, sum;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    STATS_ADD(&a, allocations_total, 3);
    STATS_ADD(&b, allocations_total, 4);
    STATS_ADD(&a, client_to_peer_bytes, 1000);
    stats_error(&a, 401);
    stats_error(&b, 401);
    stats_error(&b, 486);
    stats_error(&b, 499); /* other */
    const stats_t *sets[] = {&a, &b};
    stats_sum(&sum, sets, 2);
    char buf[8192];
    size_t n = stats_format_prometheus(&sum, buf, sizeof buf);
    assert_true(n > 0 && n < sizeof buf);
    assert_non_null(strstr(buf, "staffroom_relay_allocations_total 7\n"));
    assert_non_null(strstr(buf, "staffroom_relay_client_to_peer_bytes_total 1000\n"));
    assert_non_null(strstr(buf, "staffroom_relay_error_responses_total{code=\"401\"} 2\n"));
    assert_non_null(strstr(buf, "staffroom_relay_error_responses_total{code=\"486\"} 1\n"));
    assert_non_null(strstr(buf, "staffroom_relay_error_responses_total{code=\"other\"} 1\n"));
    assert_non_null(strstr(buf, "# TYPE staffroom_relay_allocations gauge\n"));
    /* A small buffer truncates but stays terminated. */
    char small[32];
    stats_format_prometheus(&sum, small, sizeof small);
    assert_true(strlen(small) < sizeof small);
    stats_format_line(&sum, buf, sizeof buf);
    assert_non_null(strstr(buf, "err401=2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sum_and_format)};
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
