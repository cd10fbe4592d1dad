/* test_peer_policy.c — default-denied ranges in every IPv6 disguise, allow/deny config, loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "peer_policy.h"

static int allowed(const peer_policy_t *p, const char *ip)
{
    addr_t a;
    if (addr_parse(ip, 1234, &a) < 0)
        fail_msg("bad test address %s", ip);
    return peer_policy_allowed(p, &a);
}

/* First and last address of each default-denied IPv4 range. */
static const char *const denied_v4[] = {
    "0.0.0.0", "0.255.255.255", "127.0.0.1", "127.255.255.254", "10.0.0.0", "10.255.255.255",
    "100.64.0.0", "100.127.255.255", "169.254.0.1", "169.254.255.255", "172.16.0.0", "172.31.255.255",
    "192.168.0.0", "192.168.255.255", "192.0.0.0", "192.0.0.255", "198.18.0.0", "198.19.255.255",
    "224.0.0.0", "239.255.255.255", "240.0.0.0", "255.255.255.255",
};
/* Just outside them. */
static const char *const allowed_v4[] = {
    "1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255",
    "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0", "192.0.1.0", "198.17.255.255",
    "198.20.0.0", "223.255.255.255", "8.8.8.8", "203.0.113.5",
};
static const char *const denied_v6[] = {
    "::", "::1", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1",
    "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::", "ff02::1",
};
static const char *const allowed_v6[] = {"2001:db8::1", "2001:4860:4860::8888", "fec0::1", "fbff::1"};

static void disguises(const char *v4, char out[3][64])
{
    snprintf(out[0], 64, "::ffff:%s", v4);   /* IPv4-mapped */
    snprintf(out[1], 64, "::%s", v4);        /* IPv4-compatible */
    snprintf(out[2], 64, "64:ff9b::%s", v4); /* NAT64 well-known prefix */
}

static void test_defaults(void **s)
{
    (void)s;
    peer_policy_t *p = peer_policy_new();
    char d[3][64];
    for (size_t i = 0; i < sizeof denied_v4 / sizeof *denied_v4; i++) {
        if (allowed(p, denied_v4[i]))
            fail_msg("%s allowed", denied_v4[i]);
        disguises(denied_v4[i], d);
        for (int k = 0; k < 3; k++)
            if (allowed(p, d[k]))
                fail_msg("%s allowed", d[k]);
    }
    for (size_t i = 0; i < sizeof allowed_v4 / sizeof *allowed_v4; i++) {
        if (!allowed(p, allowed_v4[i]))
            fail_msg("%s denied", allowed_v4[i]);
        disguises(allowed_v4[i], d);
        for (int k = 0; k < 3; k++)
            if (!allowed(p, d[k]))
                fail_msg("%s denied", d[k]);
    }
    for (size_t i = 0; i < sizeof denied_v6 / sizeof *denied_v6; i++)
        if (allowed(p, denied_v6[i]))
            fail_msg("%s allowed", denied_v6[i]);
    for (size_t i = 0; i < sizeof allowed_v6 / sizeof *allowed_v6; i++)
        if (!allowed(p, allowed_v6[i]))
            fail_msg("%s denied", allowed_v6[i]);
    addr_t unset = {0};
    assert_false(peer_policy_allowed(p, &unset));
    peer_policy_free(p);
}

static void test_loopback_switch(void **s)
{
    (void)s;
    peer_policy_t *p = peer_policy_new();
    assert_false(allowed(p, "127.0.0.1"));
    assert_false(allowed(p, "::1"));
    peer_policy_allow_loopback(p, 1);
    assert_true(allowed(p, "127.0.0.1"));
    assert_true(allowed(p, "127.1.2.3"));
    assert_true(allowed(p, "::1"));
    assert_true(allowed(p, "::ffff:127.0.0.1"));
    assert_true(allowed(p, "64:ff9b::127.0.0.1"));
    /* Only loopback opens: the rest stays closed. */
    assert_false(allowed(p, "10.0.0.1"));
    assert_false(allowed(p, "::"));
    assert_false(allowed(p, "::0.0.0.2"));
    assert_false(allowed(p, "fe80::1"));
    peer_policy_free(p);
}

static void test_allow_deny(void **s)
{
    (void)s;
    peer_policy_t *p = peer_policy_new();
    assert_int_equal(peer_policy_add(p, "10.20.0.0/16", 1), 0);
    assert_int_equal(peer_policy_add(p, "10.20.30.0/24", 0), 0);
    assert_int_equal(peer_policy_add(p, "203.0.113.0/24", 0), 0);
    assert_int_equal(peer_policy_add(p, "fd00:1::/32", 1), 0);
    assert_int_equal(peer_policy_add(p, "2001:db8:bad::/48", 0), 0);
    assert_int_equal(peer_policy_add(p, "::ffff:198.51.100.0/120", 0), 0);
    /* allow opens a default-denied range, in every form */
    assert_true(allowed(p, "10.20.1.1"));
    assert_true(allowed(p, "::ffff:10.20.1.1"));
    assert_true(allowed(p, "64:ff9b::10.20.1.1"));
    assert_false(allowed(p, "10.21.1.1"));
    /* deny wins over allow */
    assert_false(allowed(p, "10.20.30.4"));
    assert_false(allowed(p, "::ffff:10.20.30.4"));
    /* deny closes a public range, in every form */
    assert_false(allowed(p, "203.0.113.5"));
    assert_false(allowed(p, "::ffff:203.0.113.5"));
    assert_false(allowed(p, "::203.0.113.5"));
    assert_false(allowed(p, "64:ff9b::203.0.113.5"));
    assert_true(allowed(p, "203.0.114.5"));
    /* IPv6 ranges */
    assert_true(allowed(p, "fd00:1::5"));
    assert_false(allowed(p, "fd00:2::5"));
    assert_false(allowed(p, "2001:db8:bad::1"));
    assert_true(allowed(p, "2001:db8:b0d::1"));
    /* a deny written as mapped IPv6 also matches the mapped form */
    assert_false(allowed(p, "::ffff:198.51.100.7"));
    /* malformed */
    assert_int_equal(peer_policy_add(p, "10.0.0.0/33", 1), -1);
    assert_int_equal(peer_policy_add(p, "nonsense", 0), -1);
    assert_int_equal(peer_policy_add(p, "::/129", 0), -1);
    assert_int_equal(peer_policy_add(p, "/8", 0), -1);
    peer_policy_free(p);
}

static void test_allow_all_then_loopback(void **s)
{
    (void)s;
    peer_policy_t *p = peer_policy_new();
    peer_policy_allow_loopback(p, 1);
    peer_policy_add(p, "127.0.0.0/8", 0); /* deny still wins over the loopback switch */
    assert_false(allowed(p, "127.0.0.1"));
    assert_false(allowed(p, "::ffff:127.0.0.1"));
    assert_true(allowed(p, "::1"));
    peer_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_loopback_switch),
        cmocka_unit_test(test_allow_deny),
        cmocka_unit_test(test_allow_all_then_loopback),
    };
    return cmocka_run_group_tests_name("peer_policy", tests, NULL, NULL);
}
