/* test_addr.c — address parsing, CIDR matching, formatting, sockaddr round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"

static void test_parse_format(void **s)
{
    (void)s;
    addr_t a;
    char buf[ADDR_STRLEN];
    assert_int_equal(addr_parse("192.0.2.1", 80, &a), 0);
    assert_string_equal(addr_format(&a, buf, sizeof buf), "192.0.2.1:80");
    assert_int_equal(addr_parse("[2001:db8::1]", 443, &a), 0);
    assert_string_equal(addr_format(&a, buf, sizeof buf), "[2001:db8::1]:443");
    assert_string_equal(addr_format_ip(&a, buf, sizeof buf), "2001:db8::1");
    assert_int_equal(addr_parse("1.2.3", 0, &a), -1);
    assert_int_equal(addr_parse("", 0, &a), -1);
    assert_int_equal(addr_parse("::1::2", 0, &a), -1);
    struct sockaddr_storage ss;
    socklen_t sl;
    addr_t b;
    addr_parse("::ffff:10.0.0.1", 9, &a);
    assert_int_equal(addr_to_sockaddr(&a, &ss, &sl), 0);
    assert_int_equal(addr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
    assert_true(addr_eq(&a, &b));
    b.port++;
    assert_false(addr_eq(&a, &b));
    assert_true(addr_eq_ip(&a, &b));
    addr_t unset = {0};
    assert_int_equal(addr_to_sockaddr(&unset, &ss, &sl), -1);
}

static void test_cidr(void **s)
{
    (void)s;
    addr_t net, ip;
    int prefix;
    assert_int_equal(addr_parse_cidr("10.1.2.3/8", &net, &prefix), 0);
    assert_int_equal(prefix, 8);
    addr_parse("10.200.0.1", 0, &ip);
    assert_true(addr_in_cidr(&ip, &net, prefix));
    addr_parse("11.0.0.1", 0, &ip);
    assert_false(addr_in_cidr(&ip, &net, prefix));
    assert_int_equal(addr_parse_cidr("100.64.0.0/10", &net, &prefix), 0);
    addr_parse("100.127.255.255", 0, &ip);
    assert_true(addr_in_cidr(&ip, &net, prefix));
    addr_parse("100.128.0.0", 0, &ip);
    assert_false(addr_in_cidr(&ip, &net, prefix));
    assert_int_equal(addr_parse_cidr("fe80::/10", &net, &prefix), 0);
    addr_parse("febf::1", 0, &ip);
    assert_true(addr_in_cidr(&ip, &net, prefix));
    addr_parse("10.0.0.1", 0, &ip); /* other family */
    assert_false(addr_in_cidr(&ip, &net, prefix));
    assert_int_equal(addr_parse_cidr("0.0.0.0/0", &net, &prefix), 0);
    assert_true(addr_in_cidr(&ip, &net, prefix));
    assert_int_equal(addr_parse_cidr("1.2.3.4", &net, &prefix), 0);
    assert_int_equal(prefix, 32);
    assert_int_equal(addr_parse_cidr("1.2.3.4/", &net, &prefix), -1);
    assert_int_equal(addr_parse_cidr("1.2.3.4/x", &net, &prefix), -1);
    assert_int_equal(addr_parse_cidr("1.2.3.4/-1", &net, &prefix), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_cidr),
    };
    return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
